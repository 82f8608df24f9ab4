import type { CounterDelta, Counters } from './progress';

/**
 * Counter deltas, one map per transaction, applied in a single statement
 * (`INSERT … ON CONFLICT (wave_id, name) DO UPDATE SET value = wave_counters.value + EXCLUDED.value`).
 * Each builder moves members between states, so the identities checked by `countersInvariant` hold after
 * every delta, not only at rest. Zero entries are left out: nothing to write.
 */

/** The terminal outcome of one forward member. `reason` is a code such as `held` or `account_not_found`. */
export type ForwardOutcome = { state: 'enabled' } | { state: 'skipped' | 'failed'; reason: string };

/**
 * The outcome of one rollback member: terminal, or `reasked`: the member waits for restoration again (a conflict
 * that only our own later writes on other protocols caused, rollback-reask.ts, asked again at the version answered;
 * or one no chain explains yet while another writer of ours is unrecorded, with that as its reason).
 */
export type RollbackOutcome =
  { state: 'rolled_back' | 'unchanged' | 'conflict' | 'reasked' } | { state: 'failed' | 'reasked'; reason: string };

const REASON = /^[a-z0-9][a-z0-9_.-]{0,63}$/i;

function count(n: number): number {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`a member count must be a non-negative integer, got ${n}`);
  return n;
}

function reasonKey(parent: string, reason: string): string {
  // A ':' in a reason would make `failed:x:y` ambiguous with nested counters: refuse it at the source.
  if (!REASON.test(reason)) throw new RangeError(`reason must be a short code without ':' or spaces, got '${reason}'`);
  return `${parent}:${reason}`;
}

/** Adds into `delta`, dropping entries that come back to zero. */
function add(delta: CounterDelta, name: string, value: number): void {
  const next = (delta[name] ?? 0) + value;
  if (next === 0) delete delta[name];
  else delta[name] = next;
}

function build(entries: [string, number][]): CounterDelta {
  const delta: CounterDelta = {};
  for (const [name, value] of entries) add(delta, name, value);
  return delta;
}

/** The membership frozen at start: every member pending. */
export const membershipDelta = (members: number): CounterDelta =>
  build([
    ['total', count(members)],
    ['pending', members],
  ]);

/** A batch claimed by a worker. */
export const claimDelta = (members: number): CounterDelta =>
  build([
    ['pending', -count(members)],
    ['in_flight', members],
  ]);

/** A claimed batch handed back untouched (lease expired before any call, shutdown): its members pend again. */
export const releaseDelta = (members: number): CounterDelta =>
  build([
    ['in_flight', -count(members)],
    ['pending', members],
  ]);

/** A never-sent batch handed back after its wave was cancelled or began rolling back: its members end cancelled. */
export const releaseCancelledDelta = (members: number): CounterDelta =>
  build([
    ['in_flight', -count(members)],
    ['cancelled', members],
  ]);

/** Cancel: members not yet claimed end as cancelled; in-flight ones settle normally. */
export const cancelPendingDelta = (members: number): CounterDelta =>
  build([
    ['pending', -count(members)],
    ['cancelled', members],
  ]);

/**
 * A settled batch: every outcome leaves in_flight for its state and, for skips and failures, its reason.
 * e.g. {in_flight: -500, enabled: 480, skipped: 15, 'skipped:held': 15, failed: 5, 'failed:account_not_found': 5}
 */
export function settleDelta(outcomes: readonly ForwardOutcome[]): CounterDelta {
  const delta: CounterDelta = {};
  add(delta, 'in_flight', -outcomes.length);
  for (const outcome of outcomes) {
    add(delta, outcome.state, 1);
    if (outcome.state !== 'enabled') add(delta, reasonKey(outcome.state, outcome.reason), 1);
  }
  return delta;
}

/** Rollback starts: the members the wave changed are queued for restoration. */
export const rollbackQueueDelta = (members: number): CounterDelta =>
  build([
    ['rollback:total', count(members)],
    ['rollback:pending', members],
  ]);

export const rollbackClaimDelta = (members: number): CounterDelta =>
  build([
    ['rollback:pending', -count(members)],
    ['rollback:in_flight', members],
  ]);

export const rollbackReleaseDelta = (members: number): CounterDelta =>
  build([
    ['rollback:in_flight', -count(members)],
    ['rollback:pending', members],
  ]);

export function rollbackSettleDelta(outcomes: readonly RollbackOutcome[]): CounterDelta {
  const delta: CounterDelta = {};
  add(delta, 'rollback:in_flight', -outcomes.length);
  for (const outcome of outcomes) {
    add(delta, outcome.state === 'reasked' ? 'rollback:pending' : `rollback:${outcome.state}`, 1);
    if (outcome.state === 'failed') add(delta, reasonKey('rollback:failed', outcome.reason), 1);
  }
  return delta;
}

/**
 * Several deltas of one transaction as one map.
 * @internal the unit tests' model (the engine merges in SQL); knip's production pass skips it.
 */
export function mergeDeltas(...deltas: readonly CounterDelta[]): CounterDelta {
  const merged: CounterDelta = {};
  for (const delta of deltas) for (const [name, value] of Object.entries(delta)) add(merged, name, value);
  return merged;
}

/**
 * What the SQL does, in memory. Absent counters start at 0.
 * @internal the unit tests' model of the counter UPDATE; knip's production pass skips it.
 */
export function applyDelta(counters: Counters, delta: CounterDelta): Record<string, number> {
  const next: Record<string, number> = { ...counters };
  for (const [name, value] of Object.entries(delta)) next[name] = (next[name] ?? 0) + value;
  return next;
}
