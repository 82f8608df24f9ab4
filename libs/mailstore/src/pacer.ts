import type { RateLimits } from './mailstore.types';
import type { RateLimitKind } from './outcome';
import { monotonicNow, sleep as realSleep, type Sleep } from './sleep';
import { TokenBucket } from './token-bucket';

export interface PacerOptions {
  /** The advertised limits (capabilities.rateLimits). */
  rateLimits: RateLimits;
  /** Fraction of the advertised rates and bursts the pacer allows itself (default 0.9). */
  safetyFactor?: number;
  now?: () => number;
  sleep?: Sleep;
}

/** What one request costs: 1 request, and N account updates for a batch of N (1 for a single write). */
export interface PacingCost {
  requests: number;
  updates: number;
}

/**
 * Client-side pacing (contract §4): two token buckets, requests/s and account updates/s, kept at
 * `safetyFactor` of the advertised rates, awaited before each request. A 429 seen by one caller blocks
 * the matching bucket for its Retry-After, so concurrent callers back off together.
 */
export class Pacer {
  readonly requests: TokenBucket;
  readonly updates: TokenBucket;
  private readonly sleep: Sleep;

  constructor(options: PacerOptions) {
    const factor = options.safetyFactor ?? 0.9;
    if (!(factor > 0 && factor <= 1)) throw new RangeError('Pacer: safetyFactor must be in (0, 1]');
    const now = options.now ?? monotonicNow;
    const r = options.rateLimits;
    this.requests = new TokenBucket({
      ratePerSecond: r.requestsPerSecond * factor,
      capacity: Math.max(1, r.requestBurst * factor),
      now,
    });
    this.updates = new TokenBucket({
      ratePerSecond: r.accountUpdatesPerSecond * factor,
      capacity: Math.max(1, r.accountUpdateBurst * factor),
      now,
    });
    this.sleep = options.sleep ?? realSleep;
  }

  /** Waits until the request may be sent. Returns false (tokens given back) if `signal` fired first. */
  async acquire(cost: PacingCost, signal?: AbortSignal): Promise<boolean> {
    if (signal?.aborted) return false;
    const wait = Math.max(this.requests.reserve(cost.requests), this.updates.reserve(cost.updates));
    if (wait > 0) await this.sleep(wait, signal);
    if (signal?.aborted) {
      this.requests.refund(cost.requests);
      this.updates.refund(cost.updates);
      return false;
    }
    return true;
  }

  /** A 429 (with its `limit`) or 503: hold the buckets concerned for `retryAfterMs`. */
  penalize(limit: RateLimitKind | undefined, retryAfterMs: number): void {
    if (limit !== 'account-updates') this.requests.blockFor(retryAfterMs);
    if (limit !== 'requests') this.updates.blockFor(retryAfterMs);
  }
}
