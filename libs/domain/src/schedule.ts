import { DateTime, IANAZone } from 'luxon';

/**
 * Wall-clock start times in a named zone ("2026-05-09T08:00 Europe/Paris"), resolved to one instant.
 *
 * We do not rely on luxon's own choice for DST edge cases (it shifts gap times forward silently and picks the
 * later instant in an overlap); instead every candidate offset around the date is tried, and exactly the
 * instants whose wall time in the zone equals the requested one are kept:
 *  - none  -> the time does not exist (spring forward): refused, with the first valid time after the gap;
 *  - two   -> the time happens twice (fall back): the earlier instant, said in `note`.
 */

export type ResolveStartResult =
  | { ok: true; instant: Date; offsetMinutes: number; timeZone: string; note?: string }
  | {
      ok: false;
      code: 'invalid_time_zone' | 'invalid_local_time' | 'nonexistent_local_time';
      message: string;
      /** For nonexistent times: the first valid local time after the gap, same format as the input. */
      suggestion?: string;
    };

const LOCAL_FORMAT = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/;
const MINUTE = 60_000;
const DAY = 86_400_000;

export function resolveStart(localDateTime: string, timeZone: string): ResolveStartResult {
  if (typeof timeZone !== 'string' || !IANAZone.isValidZone(timeZone)) {
    return { ok: false, code: 'invalid_time_zone', message: `${String(timeZone)} is not an IANA time zone` };
  }
  const match = LOCAL_FORMAT.exec(localDateTime);
  if (match === null) {
    return {
      ok: false,
      code: 'invalid_local_time',
      message: `${localDateTime} must be a local date-time YYYY-MM-DDTHH:mm or YYYY-MM-DDTHH:mm:ss, without offset`,
    };
  }
  const [year, month, day, hour, minute, second] = match.slice(1).map((part) => Number(part ?? 0));
  const wall = DateTime.fromObject({ year, month, day, hour, minute, second }, { zone: 'UTC' });
  // luxon accepts hour 24 (as the next day's midnight): insist that what we read is what was written.
  if (!wall.isValid || wall.hour !== hour || wall.day !== day) {
    return { ok: false, code: 'invalid_local_time', message: `${localDateTime} is not a valid date-time` };
  }
  const zone = IANAZone.create(timeZone);
  const canonicalZone = new Intl.DateTimeFormat('en-US', { timeZone }).resolvedOptions().timeZone;
  // The wall time read as if it were UTC; every real instant for it is this minus the zone's offset.
  const wallMs = wall.toMillis();
  const offsets = new Set([-DAY, 0, DAY].map((shift) => zone.offset(wallMs + shift)));
  const instants = [...offsets]
    .map((offset) => wallMs - offset * MINUTE)
    .filter((instant) => zone.offset(instant) * MINUTE + instant === wallMs)
    .sort((a, b) => a - b);

  if (instants.length === 0) {
    const gapEnd = firstInstantAfterGap(zone, wallMs, offsets);
    const suggestion = DateTime.fromMillis(gapEnd, { zone }).toFormat(
      match[6] === undefined ? "yyyy-MM-dd'T'HH:mm" : "yyyy-MM-dd'T'HH:mm:ss",
    );
    return {
      ok: false,
      code: 'nonexistent_local_time',
      message: `${localDateTime} does not exist in ${canonicalZone} (the clocks skip it); the next valid time is ${suggestion}`,
      suggestion,
    };
  }
  const instant = instants[0];
  const offsetMinutes = zone.offset(instant);
  const result: ResolveStartResult = { ok: true, instant: new Date(instant), offsetMinutes, timeZone: canonicalZone };
  if (instants.length > 1) {
    const later = instants[instants.length - 1];
    result.note =
      `${localDateTime} happens twice in ${canonicalZone} (the clocks go back); using the first occurrence, ` +
      `${new Date(instant).toISOString()} (UTC${formatOffset(offsetMinutes)}), not ` +
      `${new Date(later).toISOString()} (UTC${formatOffset(zone.offset(later))})`;
  }
  return result;
}

/** Binary search for the transition instant: the first instant carrying the post-gap (larger) offset. */
export function firstInstantAfterGap(zone: IANAZone, wallMs: number, offsets: Set<number>): number {
  const before = Math.min(...offsets);
  const after = Math.max(...offsets);
  // Both bounds are whole seconds (the input has no milliseconds), and so are transitions: search in seconds.
  let lo = wallMs - after * MINUTE; // still on the old offset
  let hi = wallMs - before * MINUTE; // already on the new one
  while (hi - lo > 1000) {
    const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
    if (zone.offset(mid) === before) lo = mid;
    else hi = mid;
  }
  return hi;
}

export function formatOffset(offsetMinutes: number): string {
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  return `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

/**
 * How long after its start a wave may still be scheduled: an approval or a hesitation of a few minutes, not a plan file
 * kept from an earlier day, whose wave would start at once, at an hour nobody planned.
 */
export const SCHEDULE_LATE_GRACE_MS = 15 * MINUTE;

/**
 * Why a wave whose start is `startAt` may not be scheduled at `now`, or null when it may. Once scheduled, a late start
 * still fires (a worker that was down fires it when back, and ReopenWaveStartOverdue says so): this judges only the
 * command that arms it.
 */
export function scheduleRefusal(startAt: Date, now: Date): string | null {
  const lateMs = now.getTime() - startAt.getTime();
  if (lateMs <= SCHEDULE_LATE_GRACE_MS) return null;
  const ago =
    lateMs < 2 * 60 * MINUTE
      ? `${Math.floor(lateMs / MINUTE)} min`
      : lateMs < 2 * DAY
        ? `${Math.floor(lateMs / (60 * MINUTE))} h`
        : `${Math.floor(lateMs / DAY)} days`;
  return (
    `its start (${startAt.toISOString()}) passed ${ago} ago, more than the ${SCHEDULE_LATE_GRACE_MS / MINUTE} min a ` +
    'schedule may be late: set a new startLocal (PATCH), or start it now (start)'
  );
}
