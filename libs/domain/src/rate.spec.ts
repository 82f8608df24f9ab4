import fc from 'fast-check';
import {
  backoffMs,
  effectiveBatchSize,
  sendBatchSize,
  sendingRate,
  eta,
  minIntervalMs,
  projectedDuration,
  retryAfterWithJitter,
  smoothBudget,
} from './rate';

describe('smoothBudget', () => {
  it.each([
    // [rate, batch size, maxBatchItems, batch, interval ms, effective rate, batches per window]
    [200, 500, 500, 220, 1100, 200, 1], // the brief's case: 500 at 200/s must be split
    [200, 100, 500, 100, 500, 200, 2],
    [200, 150, 500, 110, 550, 200, 2], // 150 would cap at 150/s; 110 reaches the target
    [200, 500, 100, 100, 500, 200, 2],
    [1000, 500, 500, 500, 500, 1000, 2],
    [5000, 500, 500, 500, 100, 5000, 11],
    [50, 100, 500, 55, 1100, 50, 1],
    [10, 1, 500, 1, 100, 10, 11],
    [1.5, 10, 500, 1, 1000, 1, 1], // 2 accounts never fit under 1.65/s: 1 per second
    [0.5, 10, 500, 1, 2000, 0.5, 1], // below 1/1.1 per second: the long-run rate only
  ])('%p/s, batch %p, max %p -> %p every %p ms (%p/s, %p per window)', (rate, size, max, batch, ms, eff, k) => {
    expect(smoothBudget(rate, size, max)).toEqual({
      batchSize: batch,
      minIntervalMs: ms,
      effectiveRate: eff,
      batchesPerWindow: k,
    });
  });

  it.each([
    [0, 10],
    [-1, 10],
    [100, 0],
    [100, 2.5],
  ])('refuses rate %p with batch size %p', (rate, size) => {
    expect(() => effectiveBatchSize(size, rate)).toThrow(RangeError);
  });

  it('property: every one-second window stays within 110 % of the rate and the long run within the rate', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 1, max: 5000, noNaN: true }),
        fc.integer({ min: 1, max: 5000 }),
        fc.integer({ min: 1, max: 500 }),
        (rate, size, max) => {
          const budget = smoothBudget(rate, size, max);
          if (budget.batchSize > Math.min(size, max)) return false;
          if (budget.effectiveRate > rate * (1 + 1e-9)) return false;
          const starts = Array.from({ length: 60 }, (_, n) => n * budget.minIntervalMs);
          return starts.every((t) => {
            const inWindow = starts.filter((s) => s >= t && s < t + 1000).length;
            return inWindow * budget.batchSize <= 1.1 * rate + 1e-6;
          });
        },
      ),
    );
  });

  it('property: when a batch may fill a window, the best whole-account rate is reached (to 1 ms of rounding)', () => {
    fc.assert(
      fc.property(fc.double({ min: 1, max: 450, noNaN: true }), (rate) => {
        const budget = smoothBudget(rate, 500, 500);
        const best = Math.min(rate, Math.floor(1.1 * rate + 1e-9));
        return budget.effectiveRate >= best * (1 - 1e-3) && budget.effectiveRate <= rate * (1 + 1e-9);
      }),
    );
  });

  it.each([
    [100, 200, 500],
    [1, 0.5, 2000],
    [220, 200, 1100],
    [3, 3, 1000],
  ])('minIntervalMs(%p units, %p/s) = %p', (units, rate, ms) => {
    expect(minIntervalMs(units, rate)).toBe(ms);
  });
});

describe('eta', () => {
  it.each([
    [0, 0, 0, 0],
    [-5, 100, 100, 0],
    [1000, 100, 200, 10], // throttled: the observed rate
    [1000, 400, 200, 5], // a burst does not promise more than the target
    [1000, 0, 200, 5], // nothing observed yet: the target
    [1001, 0, 200, 6],
    [1000, 50, 0, 20],
    [1000, 0, 0, null],
    [1000, Number.NaN, 200, 5],
  ])('eta(%p remaining, observed %p/s, target %p/s) = %p s', (remaining, observed, target, expected) => {
    expect(eta(remaining, observed, target)).toBe(expected);
  });
});

describe('projectedDuration', () => {
  const canary = [
    { percent: 1, bakeSeconds: 1800 },
    { percent: 10, bakeSeconds: 1800 },
    { percent: 100, bakeSeconds: 0 },
  ];
  it.each([
    [1000, 200, canary, undefined, { totalSeconds: 3605, sendingSeconds: 5, bakeSeconds: 3600 }],
    [1000, 200, [], undefined, { totalSeconds: 5, sendingSeconds: 5, bakeSeconds: 0 }],
    [0, 200, canary, undefined, { totalSeconds: 0, sendingSeconds: 0, bakeSeconds: 0 }],
    [
      1000,
      200,
      canary,
      { batchSize: 500, maxBatchItems: 500 },
      { totalSeconds: 3605, sendingSeconds: 5, bakeSeconds: 3600 },
    ],
    [1000, 1.5, [], { batchSize: 10 }, { totalSeconds: 1000, sendingSeconds: 1000, bakeSeconds: 0 }],
    [1, 200, canary, undefined, { totalSeconds: 1, sendingSeconds: 1, bakeSeconds: 0 }],
    [1_000_000, 200, canary, undefined, { totalSeconds: 8600, sendingSeconds: 5000, bakeSeconds: 3600 }],
  ])('%p accounts at %p/s', (count, rate, steps, batching, expected) => {
    expect(projectedDuration(count, rate, steps, batching)).toEqual(expected);
  });
});

describe('retry delays', () => {
  const opts = (random: number, jitter?: 'full' | 'none') => ({
    baseMs: 100,
    maxMs: 2000,
    random: () => random,
    jitter,
  });

  it.each([
    [1, 100],
    [2, 200],
    [3, 400],
    [4, 800],
    [5, 1600],
    [6, 2000],
    [1000, 2000],
  ])('attempt %p caps at %p ms', (attempt, cap) => {
    expect(backoffMs(attempt, opts(0, 'none'))).toBe(cap);
    expect(backoffMs(attempt, opts(0.5))).toBe(Math.floor(cap / 2));
    expect(backoffMs(attempt, opts(0))).toBe(0);
    expect(backoffMs(attempt, opts(1))).toBeLessThan(cap);
  });

  it.each([0, -1, 1.5])('refuses attempt %p', (attempt) => {
    expect(() => backoffMs(attempt, opts(0))).toThrow(RangeError);
  });

  it.each([
    [10, 0, 10_000],
    [10, 0.5, 11_000],
    [10, 0.999, 11_998],
    [1, 1, 1200],
    [0, 0.5, 0],
    [-3, 0.5, 0],
    [Number.NaN, 0.5, 0],
    [10, 7, 12_000], // a broken random is clamped
  ])('Retry-After %p s with random %p -> %p ms', (seconds, random, ms) => {
    expect(retryAfterWithJitter(seconds, () => random)).toBe(ms);
  });

  it('property: retry-after jitter stays within [100 %, 120 %]', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 3600 }), fc.double({ min: 0, max: 1, noNaN: true }), (s, r) => {
        const ms = retryAfterWithJitter(s, () => r);
        return ms >= s * 1000 && ms <= s * 1200;
      }),
    );
  });
});

describe('sendBatchSize: accounts per batch as the engine sends them (and the preview says)', () => {
  it.each([
    [10, 100, undefined, 10], // a tenth of 100/s
    [10, 20, undefined, 2], // the wave: 20/s sends batches of 2
    [10, 100, 3, 3], // the mailstore's batch size limit (a burst of 3)
    [1000, 100_000, undefined, 500], // 500 while the mailstore's limit is unknown
    [50, 5, 500, 1], // below 10/s: one account a batch
  ])('batch size %p at %p/s, mailstore limit %p: %p', (batchSize, rate, limit, expected) => {
    expect(sendBatchSize(batchSize, rate, limit)).toBe(expected);
  });
});

describe('sendingRate: the slower of the wave and the mailstore', () => {
  it.each([
    [100, 20, 20],
    [100, 1_000_000, 100],
    [100, undefined, 100],
    [100, 0, 100], // no advertised limit
  ])('%p/s against the mailstore at %p/s: %p/s', (rate, mailstore, expected) => {
    expect(sendingRate(rate, mailstore)).toBe(expected);
  });
});
