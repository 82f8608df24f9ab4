/**
 * A token bucket with reservations (pure: the clock is injected).
 *
 * `reserve(cost)` takes the tokens at once, possibly into debt, and says how long to wait before using
 * them: concurrent callers queue up in reservation order without a waiter list, and a cost larger than
 * the capacity is still served (after a full bucket plus the excess has refilled), so the long-run rate
 * never exceeds `ratePerSecond`.
 */
export interface TokenBucketOptions {
  /** Refill rate, tokens per second (> 0). */
  ratePerSecond: number;
  /** Most tokens the bucket holds (> 0); it starts full unless `initialTokens` says otherwise. */
  capacity: number;
  initialTokens?: number;
  /** Milliseconds on a monotonic clock. */
  now: () => number;
}

export class TokenBucket {
  readonly ratePerSecond: number;
  readonly capacity: number;
  private readonly now: () => number;
  private tokens: number;
  /** Time up to which refill has been accounted; in the future while blocked. */
  private refilledAt: number;

  constructor(options: TokenBucketOptions) {
    if (!(options.ratePerSecond > 0) || !Number.isFinite(options.ratePerSecond)) {
      throw new RangeError('TokenBucket: ratePerSecond must be a positive number');
    }
    if (!(options.capacity > 0) || !Number.isFinite(options.capacity)) {
      throw new RangeError('TokenBucket: capacity must be a positive number');
    }
    this.ratePerSecond = options.ratePerSecond;
    this.capacity = options.capacity;
    this.now = options.now;
    this.tokens = Math.min(options.initialTokens ?? options.capacity, options.capacity);
    this.refilledAt = this.now();
  }

  /** Tokens available now; negative while reservations are outstanding. */
  available(): number {
    this.refill();
    return this.now() < this.refilledAt ? Math.min(this.tokens, 0) : this.tokens;
  }

  /** Takes `cost` tokens only if they are there now. */
  tryTake(cost: number): boolean {
    this.refill();
    if (this.now() < this.refilledAt || this.tokens < cost) return false;
    this.tokens -= cost;
    return true;
  }

  /** Takes `cost` tokens now and returns the milliseconds to wait before spending them (0: go). */
  reserve(cost: number): number {
    this.refill();
    this.tokens -= cost;
    const coveredAt = this.refilledAt + (this.tokens < 0 ? (-this.tokens / this.ratePerSecond) * 1_000 : 0);
    return Math.max(0, coveredAt - this.now());
  }

  /** Gives back a reservation that was not spent (e.g. the caller aborted while waiting). */
  refund(cost: number): void {
    this.refill();
    this.tokens = Math.min(this.capacity, this.tokens + cost);
  }

  /**
   * The server said "not before `ms` from now" (429 Retry-After): empty the bucket and refill nothing
   * until then, so every caller sharing it backs off, not only the one that got the 429.
   */
  blockFor(ms: number): void {
    this.refill();
    this.tokens = Math.min(this.tokens, 0);
    this.refilledAt = Math.max(this.refilledAt, this.now() + Math.max(0, ms));
  }

  private refill(): void {
    const now = this.now();
    if (now <= this.refilledAt) return;
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.refilledAt) / 1_000) * this.ratePerSecond);
    this.refilledAt = now;
  }
}
