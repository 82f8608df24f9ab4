import { eta, windowedEtaSeconds } from './rate';
import { TimeWindows } from './time-windows';
import { acceptsNewCalls, isNotStarted, WaveState } from './wave-state';

/**
 * Progress from `wave_counters` (one small row per counter, moved in the same transaction as the members they
 * count), never from a COUNT over a million members. Counter names:
 *   total, pending, in_flight, enabled, skipped, failed, cancelled      member states (total = their sum)
 *   skipped:<reason>, failed:<reason>                                   reasons (sum to their parent)
 *   rollback:total, rollback:<pending|in_flight|rolled_back|unchanged|conflict|failed>
 *   rollback:failed:<reason>
 */

export type Counters = Readonly<Record<string, number>>;
export type CounterDelta = Record<string, number>;

export const MEMBER_STATES = ['pending', 'in_flight', 'enabled', 'skipped', 'failed', 'cancelled'] as const;
export type MemberState = (typeof MEMBER_STATES)[number];
/**
 * What progress counts members by: their states, with the in-flight members of batches kept for a retry (their wave
 * stopped after an attempt; they are resent at once on resume) counted apart as `awaiting_retry`.
 */
export const MEMBER_COUNTS = [...MEMBER_STATES, 'awaiting_retry'] as const;
export type MemberCount = (typeof MEMBER_COUNTS)[number];
export const ROLLBACK_STATES = ['pending', 'in_flight', 'rolled_back', 'unchanged', 'conflict', 'failed'] as const;
export type RollbackState = (typeof ROLLBACK_STATES)[number];

/** Parents whose reasons are counted separately as `<parent>:<reason>`. */
const REASONED = ['skipped', 'failed', 'rollback:failed'] as const;
const REASON = /^[a-z0-9][a-z0-9_.-]*$/i;

const get = (counters: Counters, name: string): number => counters[name] ?? 0;
const sum = (values: number[]): number => values.reduce((a, b) => a + b, 0);

/** `<parent>:<reason>` counters of one parent, by reason. */
function reasonsOf(counters: Counters, parent: string): Record<string, number> {
  const prefix = `${parent}:`;
  const reasons: Record<string, number> = {};
  for (const [name, value] of Object.entries(counters)) {
    const reason = name.startsWith(prefix) ? name.slice(prefix.length) : undefined;
    // `failed:` must not swallow `rollback:failed:`; a reason never contains ':'.
    if (reason !== undefined && REASON.test(reason)) reasons[reason] = value;
  }
  return reasons;
}

export interface InvariantReport {
  ok: boolean;
  violations: string[];
}

/**
 * Counters equal ground truth at rest (invariant 4): these identities must hold after every transaction.
 * @internal the property tests' oracle; knip's production pass skips it.
 */
export function countersInvariant(counters: Counters): InvariantReport {
  const violations: string[] = [];
  const known = new Set<string>([
    'total',
    ...MEMBER_STATES,
    'rollback:total',
    ...ROLLBACK_STATES.map((s) => `rollback:${s}`),
  ]);
  for (const [name, value] of Object.entries(counters)) {
    const isReason = REASONED.some((p) => name.startsWith(`${p}:`) && REASON.test(name.slice(p.length + 1)));
    if (!known.has(name) && !isReason) violations.push(`unknown counter ${name}`);
    if (!Number.isInteger(value) || value < 0) violations.push(`${name} is ${value}, not a non-negative integer`);
  }
  const states = sum(MEMBER_STATES.map((s) => get(counters, s)));
  if (get(counters, 'total') !== states) {
    violations.push(`total ${get(counters, 'total')} ≠ ${MEMBER_STATES.join(' + ')} = ${states}`);
  }
  for (const parent of REASONED) {
    const reasons = sum(Object.values(reasonsOf(counters, parent)));
    if (reasons !== get(counters, parent))
      violations.push(`${parent} ${get(counters, parent)} ≠ sum of its reasons ${reasons}`);
  }
  const rollbackStates = sum(ROLLBACK_STATES.map((s) => get(counters, `rollback:${s}`)));
  if (get(counters, 'rollback:total') !== rollbackStates) {
    violations.push(`rollback:total ${get(counters, 'rollback:total')} ≠ sum of rollback states ${rollbackStates}`);
  }
  return { ok: violations.length === 0, violations };
}

export interface RollbackProgress {
  total: number;
  /** By state; `awaiting_retry`: in flight in a batch kept for a retry (counted out of `in_flight`). */
  counts: Record<RollbackState | 'awaiting_retry', number>;
  failureReasons: Record<string, number>;
  done: number;
  doneFraction: number;
}

export interface ProgressView {
  total: number;
  /** By state; `awaiting_retry`: in flight in a batch kept for a retry (counted out of `in_flight`). */
  counts: Record<MemberCount, number>;
  skipReasons: Record<string, number>;
  failureReasons: Record<string, number>;
  /** Members with a terminal outcome: enabled, skipped, failed or cancelled. */
  done: number;
  /** done / total; 1 for an empty wave (nothing left to do), 0 before it started (its members are not chosen yet). */
  doneFraction: number;
  rollback: RollbackProgress | null;
  rate: { observedPerSecond: number; targetPerSecond: number };
  /** Null when the wave is not moving (paused, halted, not started) or no rate is known. */
  etaSeconds: number | null;
}

export interface ProgressOptions {
  /** Accounts per second over the recent window (from completed batches). */
  observedRatePerSecond: number;
  /** The rate that applies now: the wave's rate, or its rollback rate while rolling back. */
  targetRatePerSecond: number;
  state?: WaveState;
  /** In-flight members of each lane's batches kept for a retry (parked). */
  awaitingRetry?: { forward: number; rollback: number };
  /** Why it is paused: a wave waiting for its window (`outside_window`) moves again by itself, so it has an ETA. */
  statusReason?: string | null;
  /** Its time windows and the clock the view is read at: the ETA then counts sending time inside them only. */
  windows?: { windows: TimeWindows; now: Date } | null;
}

export function buildProgress(counters: Counters, options: ProgressOptions): ProgressView {
  const states = Object.fromEntries(MEMBER_STATES.map((s) => [s, get(counters, s)])) as Record<MemberState, number>;
  const counts = { ...states, ...awaiting(states.in_flight, options.awaitingRetry?.forward) };
  const total = get(counters, 'total');
  const done = counts.enabled + counts.skipped + counts.failed + counts.cancelled;
  const rollback = buildRollback(counters, options.awaitingRetry?.rollback);
  const rollingBack = options.state === 'rolling_back';
  const remaining = rollingBack
    ? (rollback?.counts.pending ?? 0) + (rollback?.counts.in_flight ?? 0) + (rollback?.counts.awaiting_retry ?? 0)
    : counts.pending + counts.in_flight + counts.awaiting_retry;
  const forward = options.state !== 'rolling_back';
  const moving =
    options.state === undefined || acceptsNewCalls(options.state) || options.statusReason === 'outside_window';
  // A draft or scheduled wave has no members yet (chosen when it starts): not done, and no ETA, rather than "0/0, 100 %".
  const notStarted = options.state !== undefined && isNotStarted(options.state);
  const etaSeconds = notStarted
    ? null
    : remaining === 0
      ? 0
      : moving
        ? eta(remaining, options.observedRatePerSecond, options.targetRatePerSecond)
        : null;
  // Rollbacks ignore the windows (they restore access as fast as they can): only the forward lane waits for them.
  const w = options.windows;
  return {
    total,
    counts,
    skipReasons: reasonsOf(counters, 'skipped'),
    failureReasons: reasonsOf(counters, 'failed'),
    done,
    doneFraction: notStarted ? 0 : total === 0 ? 1 : done / total,
    rollback,
    rate: { observedPerSecond: options.observedRatePerSecond, targetPerSecond: options.targetRatePerSecond },
    etaSeconds: etaSeconds && w && forward ? windowedEtaSeconds(etaSeconds, w.windows, w.now) : etaSeconds,
  };
}

/** `in_flight` split into those still in flight and those waiting for a retry (never more than in flight). */
function awaiting(inFlight: number, parked = 0): { in_flight: number; awaiting_retry: number } {
  const waiting = Math.min(inFlight, Math.max(0, parked));
  return { in_flight: inFlight - waiting, awaiting_retry: waiting };
}

function buildRollback(counters: Counters, parked?: number): RollbackProgress | null {
  if (!('rollback:total' in counters) && !ROLLBACK_STATES.some((s) => `rollback:${s}` in counters)) return null;
  const states = Object.fromEntries(ROLLBACK_STATES.map((s) => [s, get(counters, `rollback:${s}`)])) as Record<
    RollbackState,
    number
  >;
  const counts = { ...states, ...awaiting(states.in_flight, parked) };
  const total = get(counters, 'rollback:total');
  const done = counts.rolled_back + counts.unchanged + counts.conflict + counts.failed;
  return {
    total,
    counts,
    failureReasons: reasonsOf(counters, 'rollback:failed'),
    done,
    doneFraction: total === 0 ? 1 : done / total,
  };
}
