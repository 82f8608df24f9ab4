import { buildProgress, Counters, countersInvariant } from './progress';

/** A consistent mid-wave snapshot: 10 000 members, 3 000 settled, 500 in flight. */
const MID_WAVE: Counters = {
  total: 10_000,
  pending: 6_500,
  in_flight: 500,
  enabled: 2_700,
  skipped: 250,
  'skipped:held': 50,
  'skipped:password_reset_required': 200,
  failed: 50,
  'failed:account_not_found': 40,
  'failed:invalid': 10,
  cancelled: 0,
};

describe('countersInvariant', () => {
  it.each([
    ['a mid-wave snapshot', MID_WAVE],
    ['no counters yet', {}],
    ['a fresh membership', { total: 7, pending: 7 }],
    [
      'a wave rolling back',
      {
        ...MID_WAVE,
        'rollback:total': 2_700,
        'rollback:pending': 1_000,
        'rollback:in_flight': 200,
        'rollback:rolled_back': 1_400,
        'rollback:unchanged': 50,
        'rollback:conflict': 30,
        'rollback:failed': 20,
        'rollback:failed:upstream_timeout': 20,
      },
    ],
  ])('holds for %s', (_case, counters) => {
    expect(countersInvariant(counters)).toEqual({ ok: true, violations: [] });
  });

  it.each([
    [
      'total off by one',
      { ...MID_WAVE, total: 10_001 },
      'total 10001 ≠ pending + in_flight + enabled + skipped + failed + cancelled = 10000',
    ],
    [
      'a skip without its reason',
      { ...MID_WAVE, skipped: 251, pending: 6_499 },
      'skipped 251 ≠ sum of its reasons 250',
    ],
    ['a reason without its parent', { ...MID_WAVE, 'failed:invalid': 11 }, 'failed 50 ≠ sum of its reasons 51'],
    ['rollback total', { 'rollback:total': 5, 'rollback:pending': 4 }, 'rollback:total 5 ≠ sum of rollback states 4'],
    [
      'rollback failure reasons',
      { 'rollback:total': 2, 'rollback:failed': 2, 'rollback:failed:internal': 1 },
      'rollback:failed 2 ≠ sum of its reasons 1',
    ],
    ['a misspelt counter', { ...MID_WAVE, enabeld: 1 }, 'unknown counter enabeld'],
    ['a nested reason', { ...MID_WAVE, 'failed:a:b': 0 }, 'unknown counter failed:a:b'],
    ['a negative counter', { total: 0, pending: -1, in_flight: 1 }, 'pending is -1, not a non-negative integer'],
    ['a fractional counter', { total: 0.5, pending: 0.5 }, 'total is 0.5, not a non-negative integer'],
  ])('reports %s', (_case, counters, violation) => {
    const report = countersInvariant(counters);
    expect(report.ok).toBe(false);
    expect(report.violations).toContain(violation);
  });

  it('does not count rollback failures as forward failures', () => {
    const counters = { ...MID_WAVE, 'rollback:total': 1, 'rollback:failed': 1, 'rollback:failed:invalid': 1 };
    expect(countersInvariant(counters).ok).toBe(true);
  });
});

describe('buildProgress', () => {
  it('summarises a running wave', () => {
    const view = buildProgress(MID_WAVE, { observedRatePerSecond: 180, targetRatePerSecond: 200, state: 'running' });
    expect(view).toEqual({
      total: 10_000,
      counts: {
        pending: 6_500,
        in_flight: 500,
        awaiting_retry: 0,
        enabled: 2_700,
        skipped: 250,
        failed: 50,
        cancelled: 0,
      },
      skipReasons: { held: 50, password_reset_required: 200 },
      failureReasons: { account_not_found: 40, invalid: 10 },
      done: 3_000,
      doneFraction: 0.3,
      rollback: null,
      rate: { observedPerSecond: 180, targetPerSecond: 200 },
      etaSeconds: 39, // 7 000 left at the observed 180/s
    });
  });

  it.each([
    ['running', 180, 200, 39],
    ['running', 0, 200, 35],
    ['running', 500, 200, 35],
    ['running', 0, 0, null],
    ['paused', 180, 200, null],
    ['halted', 180, 200, null],
    ['scheduled', 0, 200, null],
    [undefined, 0, 200, 35],
  ] as const)('in state %s at %p/s observed, %p/s target: ETA %p s', (state, observed, target, expected) => {
    const view = buildProgress(MID_WAVE, { observedRatePerSecond: observed, targetRatePerSecond: target, state });
    expect(view.etaSeconds).toBe(expected);
  });

  it.each(['draft', 'scheduled'] as const)(
    'is not done, with no ETA, before it starts (%s: no members yet)',
    (state) => {
      expect(buildProgress({}, { observedRatePerSecond: 0, targetRatePerSecond: 200, state })).toMatchObject({
        total: 0,
        done: 0,
        doneFraction: 0,
        etaSeconds: null,
      });
    },
  );

  it('is done for an empty wave and a finished one', () => {
    expect(buildProgress({}, { observedRatePerSecond: 0, targetRatePerSecond: 200, state: 'completed' })).toMatchObject(
      {
        total: 0,
        done: 0,
        doneFraction: 1,
        etaSeconds: 0,
        skipReasons: {},
      },
    );
    const finished = { total: 4, enabled: 3, cancelled: 1 };
    expect(
      buildProgress(finished, { observedRatePerSecond: 0, targetRatePerSecond: 1, state: 'cancelled' }),
    ).toMatchObject({
      done: 4,
      doneFraction: 1,
      etaSeconds: 0,
    });
  });

  it('reports the rollback and its ETA at the rollback rate while rolling back', () => {
    const counters = {
      ...MID_WAVE,
      'rollback:total': 2_700,
      'rollback:pending': 900,
      'rollback:in_flight': 100,
      'rollback:rolled_back': 1_600,
      'rollback:conflict': 80,
      'rollback:failed': 20,
      'rollback:failed:upstream_timeout': 20,
    };
    const view = buildProgress(counters, { observedRatePerSecond: 0, targetRatePerSecond: 50, state: 'rolling_back' });
    expect(view.rollback).toEqual({
      total: 2_700,
      counts: {
        pending: 900,
        in_flight: 100,
        awaiting_retry: 0,
        rolled_back: 1_600,
        unchanged: 0,
        conflict: 80,
        failed: 20,
      },
      failureReasons: { upstream_timeout: 20 },
      done: 1_700,
      doneFraction: 1_700 / 2_700,
    });
    expect(view.etaSeconds).toBe(20); // 1 000 left at 50/s
  });

  it('counts the members of batches kept for a retry apart from those in flight (issue 18)', () => {
    const view = buildProgress(
      { ...MID_WAVE, 'rollback:total': 300, 'rollback:in_flight': 300 },
      {
        observedRatePerSecond: 0,
        targetRatePerSecond: 200,
        state: 'paused',
        awaitingRetry: { forward: 20, rollback: 0 },
      },
    );
    expect(view.counts).toMatchObject({ in_flight: 480, awaiting_retry: 20, pending: 6_500 });
    expect(view.rollback?.counts).toMatchObject({ in_flight: 300, awaiting_retry: 0 });
    // never more than the counters hold in flight
    const capped = buildProgress(
      { total: 5, in_flight: 5 },
      { observedRatePerSecond: 0, targetRatePerSecond: 1, awaitingRetry: { forward: 9, rollback: 0 } },
    );
    expect(capped.counts).toMatchObject({ in_flight: 0, awaiting_retry: 5 });
    expect(capped.etaSeconds).toBe(5);
  });

  it('shows an empty rollback as done as soon as it is queued', () => {
    const view = buildProgress({ 'rollback:total': 0 }, { observedRatePerSecond: 0, targetRatePerSecond: 1 });
    expect(view.rollback).toMatchObject({ total: 0, done: 0, doneFraction: 1 });
  });
});
