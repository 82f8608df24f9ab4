import { GATE_METRICS } from '@app/domain';
import { gateValueSeries } from './gate-value-series';

describe('gateValueSeries: one unit per family, base units', () => {
  it('puts each gate metric in the family of its unit, converted to base units', () => {
    expect(GATE_METRICS.map((m) => [m, gateValueSeries(m, 120)])).toEqual([
      ['mailstore_error_rate', { family: 'ratio', value: 120 }],
      ['mailstore_p95_latency_ms', { family: 'latency', value: 0.12 }],
      ['signal', { family: 'signal', value: 120 }],
      ['login_failures_per_minute', { family: 'perSecond', value: 2 }],
      ['login_failure_ratio', { family: 'ratio', value: 120 }],
      ['prometheus', { family: 'query', value: 120 }],
    ]);
  });

  it('never mixes two units in a family: the metrics sharing one are those of the same unit', () => {
    const byFamily = new Map<string, string[]>();
    for (const m of GATE_METRICS) {
      const { family } = gateValueSeries(m, 1);
      byFamily.set(family, [...(byFamily.get(family) ?? []), m]);
    }
    expect(Object.fromEntries(byFamily)).toEqual({
      ratio: ['mailstore_error_rate', 'login_failure_ratio'],
      latency: ['mailstore_p95_latency_ms'],
      signal: ['signal'],
      perSecond: ['login_failures_per_minute'],
      query: ['prometheus'],
    });
  });
});
