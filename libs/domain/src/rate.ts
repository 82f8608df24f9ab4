import { normalizeSteps, RampStep, stepLimits, totalBakeSeconds } from './ramp';
import { projectedEnd, TimeWindows, WorkSegment } from './time-windows';

/**
 * Rate arithmetic: smoothing batches into per-second budgets, ETAs and retry delays.
 * Everything takes its clock and randomness as arguments so it can be tested exactly.
 */

/** Ops may exceed the target by this much in any one-second window (the brief's "≤ 110 % of target"). */
export const WINDOW_ALLOWANCE = 1.1;
const EPSILON = 1e-9;

function positiveRate(rate: number): number {
  if (!Number.isFinite(rate) || rate <= 0) throw new RangeError(`rate must be a positive number, got ${rate}`);
  return rate;
}

export interface SmoothBudget {
  /** Accounts per batch actually sent (≤ the requested batch size and the mailstore's maxBatchItems). */
  batchSize: number;
  /** Minimum time between two batch starts. */
  minIntervalMs: number;
  /** Accounts per second this achieves over time (≤ rate). */
  effectiveRate: number;
  /** Most batch starts any one-second window can contain. */
  batchesPerWindow: number;
}

/**
 * How to send at `rate` accounts/s so that every one-second window [t, t+1s) carries at most 110 % of the rate.
 *
 * A batch counts entirely at its start. With batches of b accounts started every I seconds, a one-second window
 * holds at most ceil(1/I) starts. So with k = floor(1.1 × rate / b) batches allowed per window we need
 * I ≥ 1/k (window cap) and I ≥ b/rate (long-run rate): I = max(b/rate, 1/k), effective rate = min(rate, k × b).
 * A batch larger than 1.1 × rate can never fit (500 at 200/s): it is split. Among the sizes up to the requested
 * one, we take the largest that reaches the best effective rate (fewest requests). Below 1/1.1 accounts/s no
 * whole account fits a one-second window: one account every 1/rate seconds keeps the long-run rate.
 */
export function smoothBudget(rate: number, batchSize: number, maxBatchItems = Number.POSITIVE_INFINITY): SmoothBudget {
  const size = effectiveBatchSize(batchSize, rate, maxBatchItems);
  const intervalMs = minIntervalMs(size, rate);
  return {
    batchSize: size,
    minIntervalMs: intervalMs,
    effectiveRate: (size * 1000) / intervalMs,
    batchesPerWindow: Math.max(1, Math.floor(windowBudget(rate) / size)),
  };
}

/** See smoothBudget: the batch size that respects the per-second window at `rate`. */
export function effectiveBatchSize(batchSize: number, rate: number, maxBatchItems = Number.POSITIVE_INFINITY): number {
  positiveRate(rate);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be ≥ 1, got ${batchSize}`);
  const budget = windowBudget(rate);
  const cap = Math.min(batchSize, Math.floor(maxBatchItems), budget);
  let best = 1;
  let bestRate = 0;
  for (let b = 1; b <= cap; b++) {
    const achieved = Math.min(rate, b * Math.floor(budget / b));
    if (achieved >= bestRate) {
      best = b;
      bestRate = achieved;
    }
  }
  return best;
}

/** Whole accounts a one-second window may carry at `rate` (EPSILON: a product a hair below an integer counts as it). */
function windowBudget(rate: number): number {
  return Math.floor(WINDOW_ALLOWANCE * rate + EPSILON);
}

/** Minimum ms between starts of batches of `units` at `rate` (rounded up: never faster than allowed). */
export function minIntervalMs(units: number, rate: number): number {
  positiveRate(rate);
  const perWindow = Math.floor(windowBudget(rate) / units);
  const seconds = perWindow === 0 ? units / rate : Math.max(units / rate, 1 / perWindow);
  return Math.ceil(seconds * 1000 - EPSILON);
}

/**
 * Accounts per batch as the engine sends them (its pumps, and the preview that describes them): the wave's batch
 * size, within what the mailstore takes in one batch (`mailstoreLimit`: min(maxBatchItems, accountUpdateBurst); 500
 * while not known yet), and at most a tenth of the lane's rate so one batch arriving late in a second adds at most
 * 10 % to that second (the 110 % window rule).
 */
export function sendBatchSize(batchSize: number, laneRate: number, mailstoreLimit: number | undefined): number {
  return Math.max(1, Math.min(batchSize, mailstoreLimit ?? 500, Math.floor(laneRate / 10) || 1));
}

/**
 * Accounts per second the engine reaches: each batch is charged to the wave's pace and to the mailstore's advertised
 * update rate (libs/core Throttle), so the slower of the two sets it.
 */
export function sendingRate(laneRate: number, mailstoreRate: number | undefined): number {
  return mailstoreRate !== undefined && mailstoreRate > 0 ? Math.min(laneRate, mailstoreRate) : laneRate;
}

/**
 * Seconds left for `remaining` accounts. The observed rate when there is one, capped at the target (a burst
 * must not promise an early finish); the target otherwise. Null when nothing moves and no target is set.
 */
export function eta(remaining: number, observedRatePerSecond: number, targetRate: number): number | null {
  if (remaining <= 0) return 0;
  const observed = observedRatePerSecond > 0 ? observedRatePerSecond : 0;
  const target = targetRate > 0 ? targetRate : 0;
  const rate = observed > 0 ? Math.min(observed, target > 0 ? target : observed) : target;
  return rate > 0 ? Math.ceil(remaining / rate) : null;
}

export interface ProjectedDuration {
  totalSeconds: number;
  /** Time spent sending, at the smoothed effective rate. */
  sendingSeconds: number;
  /** Bakes between non-empty steps. */
  bakeSeconds: number;
}

/**
 * Preview: how long a wave takes at its rate, including ramp bakes. Step boundaries are taken on the eligible
 * count (the membership also holds accounts that will be skipped without a call, which cost no time).
 */
export function projectedDuration(
  eligibleCount: number,
  rate: number,
  steps: readonly RampStep[],
  batching?: { batchSize: number; maxBatchItems?: number },
): ProjectedDuration {
  const effective = batching ? smoothBudget(rate, batching.batchSize, batching.maxBatchItems).effectiveRate : rate;
  positiveRate(effective);
  const sendingSeconds = Math.ceil(eligibleCount / effective);
  const bakeSeconds = totalBakeSeconds(eligibleCount, normalizeSteps(steps));
  return { totalSeconds: sendingSeconds + bakeSeconds, sendingSeconds, bakeSeconds };
}

/**
 * A wave's work in order, for a projection through its time windows: each ramp step's sending at `rate`, then its bake
 * (not after the last non-empty step), as projectedDuration counts them.
 */
export function workSegments(eligibleCount: number, rate: number, steps: readonly RampStep[]): WorkSegment[] {
  positiveRate(rate);
  const normalized = normalizeSteps(steps);
  const segments: WorkSegment[] = [];
  let previous = 0;
  stepLimits(eligibleCount, normalized).forEach((limit, i) => {
    if (limit > previous) segments.push({ send: (limit - previous) / rate });
    if (limit < eligibleCount) segments.push({ wait: normalized[i].bakeSeconds });
    previous = limit;
  });
  return segments;
}

/**
 * The preview's end with time windows: the wave's work (workSegments) from `from` (its start, or now), sending only
 * inside its windows, bakes in wall time. Null when the windows never open for it.
 */
export function windowedProjection(
  windows: TimeWindows,
  from: Date,
  eligibleCount: number,
  rate: number,
  steps: readonly RampStep[],
): { from: Date; projectedEndAt: Date | null; totalSeconds: number | null } {
  const end = projectedEnd(windows, from, workSegments(eligibleCount, rate, steps));
  return {
    from,
    projectedEndAt: end,
    totalSeconds: end === null ? null : Math.ceil((end.getTime() - from.getTime()) / 1000),
  };
}

/** Seconds until `seconds` of sending are done from `now`, inside the windows (the progress ETA); null: never. */
export function windowedEtaSeconds(seconds: number, windows: TimeWindows, now: Date): number | null {
  const end = projectedEnd(windows, now, [{ send: seconds }]);
  return end === null ? null : Math.ceil((end.getTime() - now.getTime()) / 1000);
}

/**
 * The shared pace after 429/503 answers (AIMD, libs/core's Throttle): it halves on each Retry-After episode, never below
 * this share of the set rate, and each successful call adds back this much of it. Defaults of PACE_MIN_FACTOR and
 * PACE_RECOVERY_STEP.
 */
export const DEFAULT_PACE = { minFactor: 0.05, recoveryStep: 0.05 } as const;

export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
  random: () => number;
  /** 'full' (default): uniform in [0, cap); 'none': the cap itself. */
  jitter?: 'full' | 'none';
}

/** Exponential backoff for attempt 1, 2, 3…: cap = min(maxMs, baseMs × 2^(attempt-1)), with full jitter. */
export function backoffMs(attempt: number, options: BackoffOptions): number {
  if (!Number.isInteger(attempt) || attempt < 1) throw new RangeError(`attempt must be ≥ 1, got ${attempt}`);
  const cap = Math.min(options.maxMs, options.baseMs * 2 ** Math.min(attempt - 1, 52));
  return options.jitter === 'none' ? cap : Math.floor(unit(options.random()) * cap);
}

/** Retry-After plus 0–20 % jitter (the contract's client rule), in ms: replicas must not retry in lockstep. */
export function retryAfterWithJitter(seconds: number, random: () => number): number {
  const base = Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 0;
  return Math.ceil(base * (1 + 0.2 * unit(random())));
}

function unit(value: number): number {
  return Number.isFinite(value) ? Math.min(Math.max(value, 0), 1 - Number.EPSILON) : 0;
}
