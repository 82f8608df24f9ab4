import fc from 'fast-check';
import {
  AimdPacer,
  backoffMs,
  effectiveBatchSize,
  eta,
  minIntervalMs,
  projectedDuration,
  retryAfterWithJitter,
  retryDelayMs,
  smoothBudget,
} from './rate';

/** A pacer on a hand-driven clock. */
function pacer(targetRate: number, random = 0.5) {
  const clock = { now: 1_000_000 };
  const p = new AimdPacer({ targetRate, now: () => clock.now, random: () => random });
  return { p, clock, advance: (ms: number) => (clock.now += ms) };
}

describe('AimdPacer', () => {
  it('starts at the target', () => {
    const { p } = pacer(200);
    expect(p.currentRate).toBe(200);
    expect(p.floorRate).toBe(10);
    expect(p.blockedUntil()).toBeNull();
  });

  it('halves on a throttle, once per cooldown', () => {
    const { p, advance } = pacer(200);
    p.onThrottle();
    expect(p.currentRate).toBe(100);
    advance(999);
    p.onThrottle(); // the same burst seen by another batch
    expect(p.currentRate).toBe(100);
    advance(1);
    p.onThrottle();
    expect(p.currentRate).toBe(50);
  });

  it('never goes below the floor: max(1/s, 5 % of target), capped by the target', () => {
    const cases: [number, number][] = [
      [200, 10],
      [10, 1],
      [0.5, 0.5],
    ];
    for (const [target, floor] of cases) {
      const { p, advance } = pacer(target);
      for (let i = 0; i < 20; i++) {
        p.onThrottle();
        advance(1000);
      }
      expect(p.currentRate).toBeCloseTo(floor, 10);
    }
  });

  it('recovers 5 % of the target per second of success, up to the target', () => {
    const { p, advance } = pacer(200);
    p.onThrottle(); // 100
    advance(2000);
    p.onSuccess();
    expect(p.currentRate).toBeCloseTo(120, 10);
    advance(500);
    p.onSuccess();
    expect(p.currentRate).toBeCloseTo(125, 10);
    advance(60_000);
    p.onSuccess();
    expect(p.currentRate).toBe(200);
  });

  it('follows a target change proportionally', () => {
    const { p } = pacer(200);
    p.onThrottle();
    p.setTargetRate(400);
    expect(p.currentRate).toBe(200);
    p.setTargetRate(10);
    expect(p.currentRate).toBe(5);
    expect(() => p.setTargetRate(0)).toThrow(RangeError);
  });

  it('lifts the factor to the new floor when the target drops', () => {
    const { p, advance } = pacer(1000);
    for (let i = 0; i < 10; i++) {
      p.onThrottle();
      advance(1000);
    }
    expect(p.currentRate).toBe(50);
    p.setTargetRate(4); // floor is now 1/s = 25 % of the target
    expect(p.currentRate).toBe(1);
  });

  it('blocks for Retry-After plus jitter, keeping the longest window', () => {
    const { p, clock, advance } = pacer(200, 0.5);
    const start = clock.now;
    p.onThrottle(10);
    expect(p.blockedUntil()).toBe(start + 11_000);
    p.onThrottle(2);
    expect(p.blockedUntil()).toBe(start + 11_000);
    advance(11_000);
    expect(p.blockedUntil()).toBeNull();
  });

  it('reserves batch starts spaced by the smoothing interval and after any Retry-After window', () => {
    const { p, clock } = pacer(200, 0);
    const t0 = clock.now;
    expect([p.reserve(100), p.reserve(100), p.reserve(100)]).toEqual([t0, t0 + 500, t0 + 1000]);
    p.onThrottle(5); // rate 100/s, blocked 5 s
    expect(p.reserve(100)).toBe(t0 + 5000);
    expect(p.reserve(100)).toBe(t0 + 6000); // 100 accounts at the halved 100/s: one second apart
  });

  it('refuses a bad target', () => {
    for (const rate of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => new AimdPacer({ targetRate: rate, now: () => 0, random: () => 0 })).toThrow(RangeError);
    }
  });

  it('property: the rate stays within [floor, target] whatever happens', () => {
    const event = fc.oneof(
      fc.record({ kind: fc.constant('success' as const), ms: fc.integer({ min: 0, max: 5000 }) }),
      fc.record({ kind: fc.constant('throttle' as const), ms: fc.integer({ min: 0, max: 5000 }) }),
      fc.record({ kind: fc.constant('target' as const), rate: fc.double({ min: 0.1, max: 10_000, noNaN: true }) }),
    );
    fc.assert(
      fc.property(fc.double({ min: 0.1, max: 10_000, noNaN: true }), fc.array(event), (target, events) => {
        const { p, advance } = pacer(target);
        for (const e of events) {
          if (e.kind === 'target') p.setTargetRate(e.rate);
          else {
            advance(e.ms);
            if (e.kind === 'success') p.onSuccess();
            else p.onThrottle();
          }
          const slack = 1e-9 * p.targetRate;
          if (p.currentRate > p.targetRate + slack || p.currentRate < p.floorRate - slack) return false;
        }
        return true;
      }),
    );
  });
});

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

  it('Retry-After wins over the backoff', () => {
    expect(retryDelayMs(6, 1, opts(0, 'none'))).toBe(1000);
    expect(retryDelayMs(6, undefined, opts(0, 'none'))).toBe(2000);
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
