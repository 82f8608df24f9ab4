import type { FailureOutcome, Outcome } from './outcome';
import { sleep as realSleep, type Sleep } from './sleep';

export interface RetryPolicy {
  /** Attempts that `retryable` outcomes may consume, the first call included (default 5). */
  maxAttempts?: number;
  /** Total time it may spend waiting on 429/503/409-in-progress (default 60 000 ms). */
  maxRateLimitWaitMs?: number;
  /** First backoff ceiling for `retryable` outcomes (default 200 ms), doubled per attempt... */
  baseBackoffMs?: number;
  /** ...up to this (default 10 000 ms). Full jitter: the wait is uniform in [0, ceiling]. */
  maxBackoffMs?: number;
  /** Floor under a Retry-After of 0, so a server answering "retry now" cannot spin us (default 100 ms). */
  minRateLimitWaitMs?: number;
  /** [0, 1); injectable for tests. */
  random?: () => number;
  sleep?: Sleep;
  /** Stops retrying (the last outcome is returned) and cuts waits short. */
  signal?: AbortSignal;
  /** Called before each wait: metrics, logs, and lowering concurrency on repeated 429s. */
  onWait?: (wait: RetryWait) => void;
}

interface RetryWait {
  /** The outcome that caused the wait. */
  outcome: FailureOutcome;
  waitMs: number;
  /** Calls made so far. */
  calls: number;
  /** Attempts consumed so far by `retryable` outcomes. */
  attemptsUsed: number;
  /** Time spent so far waiting on 429/503/in-progress, this wait excluded. */
  rateLimitWaitedMs: number;
}

/**
 * Calls `call` until it returns something final, within bounds:
 * - `ok`, `permanent` (401/403 included): returned at once;
 * - `rate_limited`, `unavailable`, `in_progress`: wait Retry-After plus 0–20 % jitter (Retry-After always
 *   wins over our own backoff); these do NOT consume attempts, they spend `maxRateLimitWaitMs` instead;
 * - `retryable`: exponential backoff with full jitter; consumes an attempt (except `aborted`: returned).
 * When a bound is reached the last outcome is returned, so this never loops forever and never throws for
 * HTTP failures.
 *
 * Usage: the closure captures ONE idempotency key for the logical operation, so every attempt carries it
 * (a 500 or a lost answer may have applied the change; the same key makes the retry a replay):
 *
 *   const key = `wave-${waveId}/batch-${batchNo}`;
 *   const outcome = await withRetries(() => client.batch(items, opts, { idempotencyKey: key }), policy);
 */
export async function withRetries<T>(call: () => Promise<Outcome<T>>, policy: RetryPolicy = {}): Promise<Outcome<T>> {
  const maxAttempts = Math.max(1, policy.maxAttempts ?? 5);
  const maxRateLimitWaitMs = Math.max(0, policy.maxRateLimitWaitMs ?? 60_000);
  const baseBackoffMs = Math.max(0, policy.baseBackoffMs ?? 200);
  const maxBackoffMs = Math.max(baseBackoffMs, policy.maxBackoffMs ?? 10_000);
  const minRateLimitWaitMs = Math.max(1, policy.minRateLimitWaitMs ?? 100);
  const random = policy.random ?? Math.random;
  const sleep = policy.sleep ?? realSleep;

  let calls = 0;
  let attemptsUsed = 0;
  let rateLimitWaitedMs = 0;
  for (;;) {
    const outcome = await call();
    calls++;
    if (outcome.kind === 'ok' || outcome.kind === 'permanent' || policy.signal?.aborted) return outcome;

    let waitMs: number;
    if (outcome.kind === 'retryable') {
      attemptsUsed++;
      if (outcome.code === 'aborted' || outcome.code === 'send_window_missed' || attemptsUsed >= maxAttempts)
        return outcome;
      const ceiling = Math.min(maxBackoffMs, baseBackoffMs * 2 ** (attemptsUsed - 1));
      waitMs = Math.round(unit(random) * ceiling);
    } else {
      const retryAfterMs = Math.max(outcome.retryAfterMs, minRateLimitWaitMs);
      waitMs = Math.ceil(retryAfterMs * (1 + 0.2 * unit(random)));
      if (rateLimitWaitedMs + waitMs > maxRateLimitWaitMs) return outcome;
    }

    policy.onWait?.({ outcome, waitMs, calls, attemptsUsed, rateLimitWaitedMs });
    await sleep(waitMs, policy.signal);
    if (outcome.kind !== 'retryable') rateLimitWaitedMs += waitMs;
    if (policy.signal?.aborted) return outcome;
  }
}

/** Clamps an injected random source into [0, 1]. */
function unit(random: () => number): number {
  const r = random();
  return Number.isFinite(r) ? Math.min(1, Math.max(0, r)) : 0;
}
