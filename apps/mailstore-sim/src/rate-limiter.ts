import type { RateLimits } from './sim.types';

/** The contract's example limits (section 2), used unless configured otherwise. */
export const DEFAULT_RATE_LIMITS: RateLimits = {
  requestsPerSecond: 20,
  requestBurst: 40,
  accountUpdatesPerSecond: 200,
  accountUpdateBurst: 500,
};

/**
 * What capabilities advertise when limits are off: numbers (not an absent field) so that any client
 * paces by them without special cases, and so high that pacing by them is no pacing at all.
 */
export const UNLIMITED_RATE_LIMITS: RateLimits = {
  requestsPerSecond: 1_000_000,
  requestBurst: 1_000_000,
  accountUpdatesPerSecond: 1_000_000,
  accountUpdateBurst: 1_000_000,
};

/** Float slack so that a bucket refilled to 0.9999999 tokens still admits a cost of 1. */
const EPSILON = 1e-9;

/**
 * A token bucket: `burst` tokens at most, refilled at `ratePerSecond`. A cost larger than the burst is
 * admitted when the bucket is full and leaves it in debt, so the long-run rate still holds.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    readonly ratePerSecond: number,
    readonly burst: number,
    nowMs: number,
  ) {
    this.tokens = burst;
    this.last = nowMs;
  }

  /** Takes `cost` tokens and returns 0, or takes nothing and returns the seconds to wait (fractional). */
  take(cost: number, nowMs: number): number {
    this.refill(nowMs);
    const need = Math.min(cost, this.burst);
    if (this.tokens + EPSILON >= need) {
      this.tokens -= cost;
      return 0;
    }
    return (need - this.tokens) / this.ratePerSecond;
  }

  remaining(nowMs: number): number {
    this.refill(nowMs);
    return Math.max(0, Math.floor(this.tokens + EPSILON));
  }

  /** Whole seconds until the bucket is full again. */
  secondsToFull(nowMs: number): number {
    this.refill(nowMs);
    return Math.max(0, Math.ceil((this.burst - this.tokens - EPSILON) / this.ratePerSecond));
  }

  private refill(nowMs: number): void {
    if (nowMs > this.last) {
      this.tokens = Math.min(this.burst, this.tokens + ((nowMs - this.last) / 1000) * this.ratePerSecond);
      this.last = nowMs;
    }
  }
}

type RateLimitName = 'requests' | 'account-updates';

export interface RateLimitRejection {
  limit: RateLimitName;
  /** Integer >= 1: what Retry-After says. */
  retryAfterSeconds: number;
}

interface Budgets {
  requests: TokenBucket;
  updates: TokenBucket;
}

/** Two budgets per credential (contract section 4): requests/s and account updates/s, each with a burst. */
export class RateLimiter {
  private readonly budgets = new Map<string, Budgets>();
  /** Advertised in capabilities and RateLimit-Policy. */
  readonly advertised: RateLimits;
  readonly enabled: boolean;
  private readonly policyHeader: string;

  constructor(
    limits: RateLimits | 'none',
    private readonly now: () => number = () => performance.now(),
  ) {
    this.enabled = limits !== 'none';
    this.advertised = limits === 'none' ? UNLIMITED_RATE_LIMITS : limits;
    const a = this.advertised;
    this.policyHeader =
      `"requests";q=${a.requestBurst};w=${Math.max(1, Math.ceil(a.requestBurst / a.requestsPerSecond))}, ` +
      `"account-updates";q=${a.accountUpdateBurst};w=${Math.max(1, Math.ceil(a.accountUpdateBurst / a.accountUpdatesPerSecond))}`;
  }

  takeRequest(token: string): RateLimitRejection | undefined {
    return this.enabled ? reject('requests', this.budgetsOf(token).requests.take(1, this.now())) : undefined;
  }

  /** A batch of N items costs N; PATCH costs 1. */
  takeUpdates(token: string, cost: number): RateLimitRejection | undefined {
    return this.enabled ? reject('account-updates', this.budgetsOf(token).updates.take(cost, this.now())) : undefined;
  }

  /** Informative RateLimit-Policy / RateLimit headers (IETF httpapi draft); none when limits are off. */
  headers(token: string): Record<string, string> {
    if (!this.enabled) return {};
    const { requests, updates } = this.budgetsOf(token);
    const now = this.now();
    return {
      'ratelimit-policy': this.policyHeader,
      ratelimit:
        `"requests";r=${requests.remaining(now)};t=${requests.secondsToFull(now)}, ` +
        `"account-updates";r=${updates.remaining(now)};t=${updates.secondsToFull(now)}`,
    };
  }

  /** Every credential starts again with full buckets. */
  reset(): void {
    this.budgets.clear();
  }

  private budgetsOf(token: string): Budgets {
    let budgets = this.budgets.get(token);
    if (!budgets) {
      const a = this.advertised;
      const now = this.now();
      budgets = {
        requests: new TokenBucket(a.requestsPerSecond, a.requestBurst, now),
        updates: new TokenBucket(a.accountUpdatesPerSecond, a.accountUpdateBurst, now),
      };
      this.budgets.set(token, budgets);
    }
    return budgets;
  }
}

function reject(limit: RateLimitName, waitSeconds: number): RateLimitRejection | undefined {
  return waitSeconds === 0 ? undefined : { limit, retryAfterSeconds: Math.max(1, Math.ceil(waitSeconds)) };
}

/** Checks configured limits: every value a finite positive number. */
export function validateRateLimits(value: unknown): RateLimits {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error('rateLimits must be an object or "none"');
  }
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!(key in DEFAULT_RATE_LIMITS)) throw new Error(`rateLimits.${key} is not a known limit`);
  }
  const out = { ...DEFAULT_RATE_LIMITS };
  for (const key of Object.keys(DEFAULT_RATE_LIMITS) as (keyof RateLimits)[]) {
    const v = record[key] ?? DEFAULT_RATE_LIMITS[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
      throw new Error(`rateLimits.${key} must be a positive number`);
    }
    out[key] = v;
  }
  return out;
}
