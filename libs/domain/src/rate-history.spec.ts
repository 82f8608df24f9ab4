import { HISTORY_MAX_SAMPLES, historyBucketSeconds, historyPoints } from './rate-history';

describe('historyBucketSeconds', () => {
  it('takes the narrowest round width that keeps the samples bounded', () => {
    expect(historyBucketSeconds(0)).toBe(5);
    expect(historyBucketSeconds(30)).toBe(5);
    expect(historyBucketSeconds(599)).toBe(5); // 120 buckets, the last one 4 s in
    expect(historyBucketSeconds(600)).toBe(10); // the end would open a 121st
    expect(historyBucketSeconds(601)).toBe(10);
    expect(historyBucketSeconds(3600)).toBe(60); // 3,600 / 30 + 1 = 121 buckets: too many
    expect(historyBucketSeconds(86_400)).toBe(900);
    expect(historyBucketSeconds(365 * 86_400)).toBe(86_400);
  });

  it('never gives more than HISTORY_MAX_SAMPLES buckets up to 120 days', () => {
    for (let span = 0; span <= 120 * 86_400; span += 997) {
      expect(Math.floor(span / historyBucketSeconds(span)) + 1).toBeLessThanOrEqual(HISTORY_MAX_SAMPLES);
    }
  });
});

describe('historyPoints', () => {
  it('turns sums into accounts per second, with empty buckets at 0 and both lanes apart', () => {
    const points = historyPoints(
      [
        { index: 0, kind: 'forward', accounts: 500 },
        { index: 2, kind: 'forward', accounts: 250 },
        { index: 2, kind: 'rollback', accounts: 50 },
      ],
      30,
      10,
    );
    expect(points).toEqual([
      { offsetSeconds: 0, forwardPerSecond: 50, rollbackPerSecond: 0 },
      { offsetSeconds: 10, forwardPerSecond: 0, rollbackPerSecond: 0 },
      { offsetSeconds: 20, forwardPerSecond: 25, rollbackPerSecond: 5 },
      { offsetSeconds: 30, forwardPerSecond: 0, rollbackPerSecond: 0 }, // the end's own, just opened
    ]);
  });

  it('divides the bucket still filling by the time that has passed in it', () => {
    // 24 s into the wave with 10 s buckets: the third bucket has run 4 s.
    expect(historyPoints([{ index: 2, kind: 'forward', accounts: 200 }], 24, 10)[2].forwardPerSecond).toBe(50);
    // Never by less than a second.
    expect(historyPoints([{ index: 0, kind: 'forward', accounts: 30 }], 0.2, 5)[0].forwardPerSecond).toBe(30);
  });

  it("gives the end its bucket when the span is a whole number of widths (a finished wave's last batch)", () => {
    const points = historyPoints([{ index: 2, kind: 'forward', accounts: 10 }], 20, 10);
    expect(points).toHaveLength(3);
    expect(points[2].forwardPerSecond).toBe(10); // a bucket 0 s in: divided by 1 s, not 0
  });

  it('drops sums outside the span and caps the count', () => {
    expect(historyPoints([{ index: 7, kind: 'forward', accounts: 9 }], 19, 10)).toHaveLength(2);
    expect(
      historyPoints([{ index: -1, kind: 'forward', accounts: 9 }], 20, 10).every((p) => p.forwardPerSecond === 0),
    ).toBe(true);
    expect(historyPoints([], 10_000, 5)).toHaveLength(HISTORY_MAX_SAMPLES);
  });
});
