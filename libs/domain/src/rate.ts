import { normalizeSteps, RampStep, totalBakeSeconds } from './ramp';

/**
 * Rate arithmetic: pacing (AIMD), smoothing batches into per-second budgets, ETAs and retry delays.
 * Everything takes its clock and randomness as arguments so it can be tested exactly.
 */

/** Ops may exceed the target by this much in any one-second window (the brief's "≤ 110 % of target"). */
export const WINDOW_ALLOWANCE = 1.1;
const EPSILON = 1e-9;

export interface AimdOptions {
  /** Accounts per second set by ops (changeable while the wave runs). */
  targetRate: number;
  /** Milliseconds since the epoch. */
  now: () => number;
  /** Uniform in [0, 1): the jitter added to Retry-After windows. */
  random: () => number;
  /** Multiplicative decrease on 429/503 (default 0.5). */
  decreaseFactor?: number;
  /** The rate never drops below max(minRate, floorFraction × target), nor above the target (defaults 1/s, 5 %). */
  minRate?: number;
  floorFraction?: number;
  /** Additive increase: this fraction of the target per second of success (default 0.05). */
  increasePerSecond?: number;
  /** Throttles arriving within this long of a decrease count once: concurrent batches see the same 429 burst. */
  decreaseCooldownMs?: number;
}

/**
 * Additive-increase, multiplicative-decrease pacer. The state is a factor of the target in (0, 1], so when ops
 * change the target the current rate follows proportionally and recovers toward the new target.
 */
export class AimdPacer {
  private target: number;
  private factor = 1;
  private lastAdjustAt: number;
  private lastDecreaseAt = Number.NEGATIVE_INFINITY;
  private blockedUntilMs = 0;
  private nextFreeAt = 0;
  private readonly options: Required<Omit<AimdOptions, 'targetRate'>>;

  constructor(options: AimdOptions) {
    this.target = positiveRate(options.targetRate);
    this.options = {
      now: options.now,
      random: options.random,
      decreaseFactor: options.decreaseFactor ?? 0.5,
      minRate: options.minRate ?? 1,
      floorFraction: options.floorFraction ?? 0.05,
      increasePerSecond: options.increasePerSecond ?? 0.05,
      decreaseCooldownMs: options.decreaseCooldownMs ?? 1000,
    };
    this.lastAdjustAt = this.options.now();
  }

  get targetRate(): number {
    return this.target;
  }

  setTargetRate(rate: number): void {
    this.target = positiveRate(rate);
    this.factor = Math.max(this.factor, this.floorRate / this.target);
  }

  get floorRate(): number {
    return Math.min(this.target, Math.max(this.options.minRate, this.options.floorFraction * this.target));
  }

  get currentRate(): number {
    return this.target * this.factor;
  }

  /** A successful call: recover toward the target in proportion to the time since the last adjustment. */
  onSuccess(): void {
    const now = this.options.now();
    const seconds = Math.max(0, now - this.lastAdjustAt) / 1000;
    this.factor = Math.min(1, this.factor + this.options.increasePerSecond * seconds);
    this.lastAdjustAt = now;
  }

  /** A 429 or 503: halve (once per cooldown) and respect Retry-After plus 0–20 % jitter. */
  onThrottle(retryAfterSeconds?: number): void {
    const now = this.options.now();
    if (now - this.lastDecreaseAt >= this.options.decreaseCooldownMs) {
      this.factor = Math.max(this.floorRate / this.target, this.factor * this.options.decreaseFactor);
      this.lastDecreaseAt = now;
    }
    this.lastAdjustAt = now;
    if (retryAfterSeconds !== undefined) {
      const until = now + retryAfterWithJitter(retryAfterSeconds, this.options.random);
      this.blockedUntilMs = Math.max(this.blockedUntilMs, until);
    }
  }

  /** End of the current Retry-After window, or null when calls may go now. */
  blockedUntil(): number | null {
    return this.blockedUntilMs > this.options.now() ? this.blockedUntilMs : null;
  }

  /**
   * Book a batch of `units` accounts: returns the instant (ms) it may start, at or after now, after any
   * Retry-After window, and spaced from the previous booking by smoothBudget's interval at the current rate.
   */
  reserve(units: number): number {
    const start = Math.max(this.options.now(), this.blockedUntilMs, this.nextFreeAt);
    this.nextFreeAt = start + minIntervalMs(units, this.currentRate);
    return start;
  }
}

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

/** The delay before retry `attempt`: Retry-After, when the mailstore sent one, always wins over our backoff. */
export function retryDelayMs(attempt: number, retryAfterSeconds: number | undefined, options: BackoffOptions): number {
  return retryAfterSeconds === undefined
    ? backoffMs(attempt, options)
    : retryAfterWithJitter(retryAfterSeconds, options.random);
}

function unit(value: number): number {
  return Number.isFinite(value) ? Math.min(Math.max(value, 0), 1 - Number.EPSILON) : 0;
}
