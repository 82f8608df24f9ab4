import fc from 'fast-check';
import {
  applyDelta,
  cancelPendingDelta,
  claimDelta,
  ForwardOutcome,
  membershipDelta,
  mergeDeltas,
  releaseCancelledDelta,
  releaseDelta,
  rollbackClaimDelta,
  rollbackQueueDelta,
  rollbackReleaseDelta,
  rollbackSettleDelta,
  RollbackOutcome,
  settleDelta,
} from './counter-delta';
import { countersInvariant } from './progress';

const times = <T>(n: number, value: T): T[] => Array.from({ length: n }, () => value);

describe('counter deltas', () => {
  it('settles a batch as in the brief', () => {
    const outcomes: ForwardOutcome[] = [
      ...times(480, { state: 'enabled' } as const),
      ...times(15, { state: 'skipped', reason: 'held' } as const),
      ...times(5, { state: 'failed', reason: 'account_not_found' } as const),
    ];
    expect(settleDelta(outcomes)).toEqual({
      in_flight: -500,
      enabled: 480,
      skipped: 15,
      'skipped:held': 15,
      failed: 5,
      'failed:account_not_found': 5,
    });
  });

  it.each([
    ['membership', membershipDelta(7), { total: 7, pending: 7 }],
    ['claim', claimDelta(500), { pending: -500, in_flight: 500 }],
    ['release', releaseDelta(500), { in_flight: -500, pending: 500 }],
    ['release into a cancelled wave', releaseCancelledDelta(4), { in_flight: -4, cancelled: 4 }],
    ['cancel', cancelPendingDelta(12), { pending: -12, cancelled: 12 }],
    ['rollback queue', rollbackQueueDelta(9), { 'rollback:total': 9, 'rollback:pending': 9 }],
    ['rollback claim', rollbackClaimDelta(9), { 'rollback:pending': -9, 'rollback:in_flight': 9 }],
    ['rollback release', rollbackReleaseDelta(9), { 'rollback:in_flight': -9, 'rollback:pending': 9 }],
    ['nothing to claim', claimDelta(0), {}],
    ['an empty settle', settleDelta([]), {}],
  ])('%s', (_case, delta, expected) => {
    expect(delta).toEqual(expected);
  });

  it('settles a rollback batch with reasons for failures only', () => {
    const outcomes: RollbackOutcome[] = [
      { state: 'rolled_back' },
      { state: 'rolled_back' },
      { state: 'unchanged' },
      { state: 'conflict' },
      { state: 'reasked' },
      { state: 'failed', reason: 'upstream_timeout' },
    ];
    expect(rollbackSettleDelta(outcomes)).toEqual({
      'rollback:in_flight': -6,
      'rollback:pending': 1,
      'rollback:rolled_back': 2,
      'rollback:unchanged': 1,
      'rollback:conflict': 1,
      'rollback:failed': 1,
      'rollback:failed:upstream_timeout': 1,
    });
  });

  it('merges the deltas of one transaction and drops what cancels out', () => {
    expect(mergeDeltas(claimDelta(10), settleDelta(times(10, { state: 'enabled' } as const)))).toEqual({
      pending: -10,
      enabled: 10,
    });
    expect(mergeDeltas(claimDelta(3), releaseDelta(3))).toEqual({});
  });

  it.each([-1, 1.5, Number.NaN])('refuses a member count of %p', (n) => {
    expect(() => claimDelta(n)).toThrow(RangeError);
    expect(() => membershipDelta(n)).toThrow(RangeError);
  });

  it.each(['', 'a:b', 'two words', 'x'.repeat(65)])('refuses the reason %p', (reason) => {
    expect(() => settleDelta([{ state: 'failed', reason }])).toThrow(RangeError);
    expect(() => rollbackSettleDelta([{ state: 'failed', reason }])).toThrow(RangeError);
  });

  it('applies a delta like the SQL does', () => {
    expect(applyDelta({ pending: 5, total: 5 }, claimDelta(2))).toEqual({ pending: 3, in_flight: 2, total: 5 });
  });

  type Step =
    | { kind: 'claim' | 'release' | 'release_cancelled' | 'cancel' | 'rollback_claim' | 'rollback_release'; n: number }
    | { kind: 'settle'; outcomes: ForwardOutcome[] }
    | { kind: 'rollback_settle'; outcomes: RollbackOutcome[] };

  const reason = fc.constantFrom('held', 'password_reset_required', 'account_not_found', 'internal');
  const forwardOutcome: fc.Arbitrary<ForwardOutcome> = fc.oneof(
    fc.constant({ state: 'enabled' as const }),
    fc.record({ state: fc.constantFrom('skipped' as const, 'failed' as const), reason }),
  );
  const rollbackOutcome: fc.Arbitrary<RollbackOutcome> = fc.oneof(
    fc.record({
      state: fc.constantFrom('rolled_back' as const, 'unchanged' as const, 'conflict' as const, 'reasked' as const),
    }),
    fc.record({ state: fc.constant('failed' as const), reason }),
  );
  const step: fc.Arbitrary<Step> = fc.oneof(
    fc.record({
      kind: fc.constantFrom(
        'claim',
        'release',
        'release_cancelled',
        'cancel',
        'rollback_claim',
        'rollback_release' as const,
      ),
      n: fc.nat(50),
    }) as fc.Arbitrary<Step>,
    fc.record({ kind: fc.constant('settle' as const), outcomes: fc.array(forwardOutcome, { maxLength: 50 }) }),
    fc.record({
      kind: fc.constant('rollback_settle' as const),
      outcomes: fc.array(rollbackOutcome, { maxLength: 50 }),
    }),
  );

  it('property: any feasible sequence of deltas keeps the invariant and non-negative counters', () => {
    fc.assert(
      fc.property(fc.nat(300), fc.array(step, { maxLength: 40 }), (members, steps) => {
        let counters: Record<string, number> = applyDelta({}, membershipDelta(members));
        let rollbackQueued = false;
        const c = (name: string) => counters[name] ?? 0;
        for (const s of steps) {
          // Clamp each step to what the model allows, the way the SQL claims at most what is pending.
          if (s.kind === 'claim') counters = applyDelta(counters, claimDelta(Math.min(s.n, c('pending'))));
          if (s.kind === 'release') counters = applyDelta(counters, releaseDelta(Math.min(s.n, c('in_flight'))));
          if (s.kind === 'release_cancelled')
            counters = applyDelta(counters, releaseCancelledDelta(Math.min(s.n, c('in_flight'))));
          if (s.kind === 'cancel') counters = applyDelta(counters, cancelPendingDelta(c('pending')));
          if (s.kind === 'settle') counters = applyDelta(counters, settleDelta(s.outcomes.slice(0, c('in_flight'))));
          if (!rollbackQueued && s.kind.startsWith('rollback')) {
            counters = applyDelta(counters, rollbackQueueDelta(c('enabled')));
            rollbackQueued = true;
          }
          const pending = c('rollback:pending');
          const inFlight = c('rollback:in_flight');
          if (s.kind === 'rollback_claim') counters = applyDelta(counters, rollbackClaimDelta(Math.min(s.n, pending)));
          if (s.kind === 'rollback_release')
            counters = applyDelta(counters, rollbackReleaseDelta(Math.min(s.n, inFlight)));
          if (s.kind === 'rollback_settle') {
            counters = applyDelta(counters, rollbackSettleDelta(s.outcomes.slice(0, inFlight)));
          }
          const report = countersInvariant(counters);
          if (!report.ok) throw new Error(report.violations.join('; '));
        }
        return c('total') === members;
      }),
    );
  });
});
