import { GATE_METRICS } from '@app/domain';
import { gateValueSeries } from './gate-value-series';

describe('gateValueSeries: one unit per family, base units', () => {
  it('puts each gate metric in the family of its unit, converted to base units', () => {
    expect(GATE_METRICS.map((m) => [m, gateValueSeries(m, 120, 60)])).toEqual([
      ['mailstore_error_rate', { family: 'ratio', value: 120 }],
      ['mailstore_p95_latency_ms', { family: 'latency', value: 0.12 }],
      ['signal', { family: 'signalOverThreshold', value: 2 }],
      ['login_failures_per_minute', { family: 'perSecond', value: 2 }],
      ['login_failure_ratio', { family: 'ratio', value: 120 }],
      ['prometheus', null],
    ]);
  });

  it('never mixes two units in a family: the metrics sharing one are those of the same unit', () => {
    const byFamily = new Map<string, string[]>();
    for (const m of GATE_METRICS) {
      const series = gateValueSeries(m, 1, 1);
      if (series) byFamily.set(series.family, [...(byFamily.get(series.family) ?? []), m]);
    }
    expect(Object.fromEntries(byFamily)).toEqual({
      ratio: ['mailstore_error_rate', 'login_failure_ratio'],
      latency: ['mailstore_p95_latency_ms'],
      signalOverThreshold: ['signal'],
      perSecond: ['login_failures_per_minute'],
    });
  });

  it('a signal, in its sender’s unit, only as a multiple of its threshold: two gates in any units compare', () => {
    expect(gateValueSeries('signal', 0.03, 0.05)).toEqual({ family: 'signalOverThreshold', value: 0.6 });
    expect(gateValueSeries('signal', 900, 300)).toEqual({ family: 'signalOverThreshold', value: 3 });
    expect(gateValueSeries('signal', 5, 0)).toBeNull();
    expect(gateValueSeries('signal', 5, null)).toBeNull();
  });
});
