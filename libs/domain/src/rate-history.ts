/**
 * A wave's rate history from its per-batch rows (accounts sent per time bucket): how wide the buckets are and how the
 * sums become rates. Bounded: whatever the wave's age, at most HISTORY_MAX_SAMPLES samples.
 */
export const HISTORY_MAX_SAMPLES = 120;

/** Bucket widths, seconds: round figures a chart's reader can take in (5 s up to a day). */
const WIDTHS = [5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14_400, 43_200, 86_400];

/**
 * Buckets from the origin to `spanSeconds`: the one the end falls in included (a finished wave's history ends at its
 * last batch, which must have its bucket even when the span is a whole number of widths).
 */
function bucketCount(spanSeconds: number, bucketSeconds: number): number {
  return Math.floor(Math.max(0, spanSeconds) / bucketSeconds) + 1;
}

/** The narrowest width that covers `spanSeconds` in at most HISTORY_MAX_SAMPLES buckets. */
export function historyBucketSeconds(spanSeconds: number): number {
  return WIDTHS.find((w) => bucketCount(spanSeconds, w) <= HISTORY_MAX_SAMPLES) ?? WIDTHS[WIDTHS.length - 1];
}

export interface BucketSum {
  /** 0-based bucket index from the origin. */
  index: number;
  kind: 'forward' | 'rollback';
  accounts: number;
}

export interface HistoryPoint {
  /** Seconds from the origin to the bucket's start. */
  offsetSeconds: number;
  forwardPerSecond: number;
  rollbackPerSecond: number;
}

/**
 * Every bucket from the origin to `spanSeconds`, the end's included (empty ones at 0: a pause shows as a gap, not as nothing), each sum
 * divided by the bucket's width; the last, still filling, by the part that has passed (at least 1 s), so it does not
 * under-read. Sums outside the span (a clock step) are dropped.
 */
export function historyPoints(sums: readonly BucketSum[], spanSeconds: number, bucketSeconds: number): HistoryPoint[] {
  const count = Math.min(HISTORY_MAX_SAMPLES, bucketCount(spanSeconds, bucketSeconds));
  const points: HistoryPoint[] = [];
  for (let i = 0; i < count; i++) {
    points.push({ offsetSeconds: i * bucketSeconds, forwardPerSecond: 0, rollbackPerSecond: 0 });
  }
  for (const s of sums) {
    const p = points[s.index];
    if (!p || s.index < 0) continue;
    const width = Math.max(1, Math.min(bucketSeconds, spanSeconds - p.offsetSeconds));
    const rate = Math.round((s.accounts / width) * 100) / 100;
    if (s.kind === 'forward') p.forwardPerSecond = rate;
    else p.rollbackPerSecond = rate;
  }
  return points;
}
