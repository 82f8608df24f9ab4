import {
  DEFAULT_RATE_LIMITS,
  RateLimiter,
  TokenBucket,
  UNLIMITED_RATE_LIMITS,
  validateRateLimits,
} from './rate-limiter';

/** A clock the test moves by hand (milliseconds). */
function manualClock(start = 1_000): { now: () => number; advance(ms: number): void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

describe('TokenBucket', () => {
  it('admits a full burst at once, then refuses and says how long to wait', () => {
    const bucket = new TokenBucket(20, 40, 0);
    for (let i = 0; i < 40; i++) expect(bucket.take(1, 0)).toBe(0);
    expect(bucket.take(1, 0)).toBeCloseTo(1 / 20);
  });

  it('refills at the rate and never above the burst', () => {
    const bucket = new TokenBucket(10, 5, 0);
    expect(bucket.take(5, 0)).toBe(0);
    expect(bucket.remaining(0)).toBe(0);
    expect(bucket.remaining(300)).toBe(3);
    expect(bucket.remaining(60_000)).toBe(5);
    expect(bucket.secondsToFull(60_000)).toBe(0);
  });

  it('admits a cost above the burst only when full, and the debt delays what follows', () => {
    const bucket = new TokenBucket(100, 50, 0);
    expect(bucket.take(80, 0)).toBe(0); // full bucket: admitted, 30 tokens of debt
    expect(bucket.take(1, 0)).toBeCloseTo(31 / 100);
    expect(bucket.take(1, 310)).toBe(0);
  });

  it('charges nothing when it refuses', () => {
    const bucket = new TokenBucket(1, 2, 0);
    expect(bucket.take(2, 0)).toBe(0);
    expect(bucket.take(1, 0)).toBeGreaterThan(0);
    expect(bucket.take(1, 0)).toBeGreaterThan(0);
    expect(bucket.take(1, 1000)).toBe(0);
  });
});

describe('RateLimiter', () => {
  const limits = { requestsPerSecond: 2, requestBurst: 3, accountUpdatesPerSecond: 100, accountUpdateBurst: 200 };

  it('counts requests per token and answers an integer Retry-After of at least 1 s', () => {
    const clock = manualClock();
    const limiter = new RateLimiter(limits, clock.now);
    for (let i = 0; i < 3; i++) expect(limiter.takeRequest('a')).toBeUndefined();
    expect(limiter.takeRequest('a')).toEqual({ limit: 'requests', retryAfterSeconds: 1 });
    expect(limiter.takeRequest('b')).toBeUndefined(); // another credential has its own budget
    clock.advance(500);
    expect(limiter.takeRequest('a')).toBeUndefined();
  });

  it('charges account updates by cost and rounds the wait up', () => {
    const clock = manualClock();
    const limiter = new RateLimiter(limits, clock.now);
    expect(limiter.takeUpdates('a', 200)).toBeUndefined();
    expect(limiter.takeUpdates('a', 150)).toEqual({ limit: 'account-updates', retryAfterSeconds: 2 });
    clock.advance(1_500);
    expect(limiter.takeUpdates('a', 150)).toBeUndefined();
  });

  it('gives informative RateLimit headers (IETF draft structure)', () => {
    const clock = manualClock();
    const limiter = new RateLimiter(limits, clock.now);
    limiter.takeRequest('a');
    const headers = limiter.headers('a');
    expect(headers['ratelimit-policy']).toBe('"requests";q=3;w=2, "account-updates";q=200;w=2');
    expect(headers.ratelimit).toBe('"requests";r=2;t=1, "account-updates";r=200;t=0');
  });

  it("never refuses with 'none', sends no headers and advertises effectively unlimited rates", () => {
    const limiter = new RateLimiter('none', () => 0);
    for (let i = 0; i < 10_000; i++) expect(limiter.takeRequest('a')).toBeUndefined();
    expect(limiter.takeUpdates('a', 1e9)).toBeUndefined();
    expect(limiter.headers('a')).toEqual({});
    expect(limiter.advertised).toEqual(UNLIMITED_RATE_LIMITS);
  });

  it('reset gives every credential full buckets again', () => {
    const limiter = new RateLimiter(limits, () => 0);
    for (let i = 0; i < 3; i++) limiter.takeRequest('a');
    expect(limiter.takeRequest('a')).toBeDefined();
    limiter.reset();
    expect(limiter.takeRequest('a')).toBeUndefined();
  });
});

describe('validateRateLimits', () => {
  it('fills missing limits from the contract defaults', () => {
    expect(validateRateLimits({ requestsPerSecond: 5 })).toEqual({ ...DEFAULT_RATE_LIMITS, requestsPerSecond: 5 });
  });

  it.each([[{ requestBurst: 0 }], [{ requestsPerSecond: '20' }], [{ perMinute: 3 }], [[]], [null]])(
    'refuses %j',
    (value) => {
      expect(() => validateRateLimits(value)).toThrow(/rateLimits/);
    },
  );
});
