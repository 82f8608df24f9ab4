import { explainPace, gateUnit, PaceInput } from './pace';
import { GATE_METRICS } from './gates';
import { WAVE_STATES } from './wave-state';

const running: PaceInput = {
  state: 'running',
  targetPerSecond: 100,
  mailstoreRatePerSecond: 200,
  factor: 1,
  blockedMs: 0,
};

describe('explainPace: why a wave sends below its set rate', () => {
  it('finds nothing when the pace is full and the mailstore allows more than the wave asks', () => {
    expect(explainPace(running)).toEqual({ ceilingPerSecond: 100, reasons: [] });
  });

  it("names the mailstore's advertised rate when it is below the wave's, and caps the ceiling at it", () => {
    expect(explainPace({ ...running, mailstoreRatePerSecond: 50 })).toEqual({
      ceilingPerSecond: 50,
      reasons: ['mailstore_rate_limit'],
    });
    // Equal is no limit: the wave gets what it asks.
    expect(explainPace({ ...running, mailstoreRatePerSecond: 100 }).reasons).toEqual([]);
  });

  it('names the reduced pace after 429s and applies the factor to the slower of the two rates', () => {
    expect(explainPace({ ...running, factor: 0.25 })).toEqual({ ceilingPerSecond: 25, reasons: ['pace_after_errors'] });
    expect(explainPace({ ...running, factor: 0.5, mailstoreRatePerSecond: 60 })).toEqual({
      ceilingPerSecond: 30,
      reasons: ['pace_after_errors', 'mailstore_rate_limit'],
    });
    // The recovery's floating-point sums (0.25 + 15 × 0.05) count as full.
    let f = 0.25;
    for (let i = 0; i < 15; i++) f = Math.min(1, f + 0.05);
    expect(explainPace({ ...running, factor: f }).reasons).toEqual([]);
  });

  it('puts a Retry-After wait first', () => {
    expect(explainPace({ ...running, factor: 0.5, blockedMs: 1200 }).reasons).toEqual([
      'retry_after',
      'pace_after_errors',
    ]);
  });

  it('says nothing it could not read (pace or capabilities unknown)', () => {
    expect(
      explainPace({ ...running, factor: null, blockedMs: null, mailstoreRatePerSecond: null, targetPerSecond: 40 }),
    ).toEqual({ ceilingPerSecond: 40, reasons: [] });
  });

  it('explains nothing for a wave that does not send, whatever the pace', () => {
    for (const state of WAVE_STATES) {
      const e = explainPace({ ...running, state, factor: 0.1, blockedMs: 5000, mailstoreRatePerSecond: 1 });
      if (state === 'running' || state === 'rolling_back') {
        expect(e.reasons).toEqual(['retry_after', 'pace_after_errors', 'mailstore_rate_limit']);
      } else {
        expect({ state, e }).toEqual({ state, e: { ceilingPerSecond: null, reasons: [] } });
      }
    }
  });
});

describe('gateUnit', () => {
  it('gives every metric its unit: fractions for rates and ratios, ms for latency, per minute for failed logins', () => {
    expect(Object.fromEntries(GATE_METRICS.map((m) => [m, gateUnit(m)]))).toEqual({
      mailstore_error_rate: 'fraction',
      mailstore_p95_latency_ms: 'ms',
      signal: 'number',
      login_failures_per_minute: 'per_minute',
      login_failure_ratio: 'fraction',
      prometheus: 'number',
    });
  });
});
