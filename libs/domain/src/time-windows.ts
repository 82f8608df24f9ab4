import { IANAZone } from 'luxon';
import { FieldError, FieldErrors } from './validation';
import { resolveStart } from './schedule';
import {
  type Interval,
  minutesOf,
  openIntervals,
  WEEKDAYS,
  type AllowedWindow,
  type Blackout,
  type TimeWindows,
  type Weekday,
} from './time-window-intervals';

/**
 * A wave's time windows (issue 20): when it may start mailstore calls. Weekly allowed ranges in one IANA zone
 * ("Mon–Fri 08:00–20:00 Europe/Paris") minus blackout periods (absolute local date-times with a zone). With no
 * allowed range, the wave may send at any time outside its blackouts.
 *
 * DST: a range is the stretch from the first instant the zone's wall clock reads its start on that date to the first
 * instant it reads its end (luxon gives the zone's offsets; the instants are found as schedule.ts finds a start):
 *  - a start or end inside the spring-forward gap (02:30 on the last Sunday of March in Paris) is the end of the gap
 *    (03:00): the window opens when the clock jumps past it;
 *  - a time that happens twice (autumn) is its first occurrence, so 02:00–03:00 on that night lasts two real hours
 *    and 00:00–24:00 lasts 25; in spring 00:00–24:00 lasts 23 and 02:00–03:00 does not happen at all.
 * A range whose end is earlier than its start crosses midnight: it belongs to its start day and ends the next day.
 * Blackouts resolve like a wave's start (resolveStart): a time in the gap is refused, a repeated one is its first.
 *
 * Everything takes the instant as an argument (no clock here): the engine passes its own.
 */
// The shapes and the open stretches live next door (time-window-intervals.ts, whose openIntervals only the tests
// call by name); this file's names are the API.
export { WEEKDAYS, type AllowedWindow, type Blackout, type TimeWindows, type Weekday } from './time-window-intervals';

/** Where the clock comes from (the engine's seam; tests pass a shifted one to cross a DST change in seconds). */
export type Clock = () => Date;
export const systemClock: Clock = () => new Date();

/**
 * A wave pauses this long before its window closes: a batch's permit is taken within a send window of the check and
 * its call starts within the send window of the permit (BATCH_SEND_WINDOW_MS, 200 ms by default), so no call starts
 * after the close. Windows are minutes long, so this costs at most a second of each.
 */
export const WINDOW_CLOSE_LEAD_MS = 1000;

export const WINDOW_LIMITS = { maxAllowed: 28, maxBlackouts: 100, maxReason: 200 } as const;
const WEEK_MINUTES = 7 * 24 * 60;

/** Field errors of a wave's `windows` (null or absent: no windows). Every message names its field. */
export function validateTimeWindows(input: unknown, field = 'windows'): FieldError[] {
  const f = new FieldErrors();
  if (input === null || input === undefined) return [];
  if (typeof input !== 'object' || Array.isArray(input)) {
    f.add(field, 'must be an object {timeZone, allowed?, blackouts?} or null');
    return f.errors;
  }
  const w = input as { timeZone?: unknown; allowed?: unknown; blackouts?: unknown };
  const zoneOk = typeof w.timeZone === 'string' && IANAZone.isValidZone(w.timeZone);
  if (!zoneOk)
    f.add(`${field}.timeZone`, `must be an IANA time zone such as Europe/Paris, not ${JSON.stringify(w.timeZone)}`);
  const allowed = validateAllowed(f, w.allowed, `${field}.allowed`);
  const blackouts = validateBlackouts(f, w.blackouts, `${field}.blackouts`, zoneOk ? (w.timeZone as string) : null);
  if (f.errors.length === 0 && allowed.length === 0 && blackouts === 0) {
    f.add(field, 'needs at least one allowed range or one blackout (null: no windows)');
  }
  return f.errors;
}

function validateAllowed(f: FieldErrors, value: unknown, field: string): AllowedWindow[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.length > WINDOW_LIMITS.maxAllowed) {
    f.add(field, `must be a list of at most ${WINDOW_LIMITS.maxAllowed} ranges {days, start, end}`);
    return [];
  }
  const good: { index: number; minutes: Interval[] }[] = [];
  value.forEach((raw: unknown, i) => {
    const at = `${field}[${i}]`;
    const r = (typeof raw === 'object' && raw !== null ? raw : {}) as Partial<Record<keyof AllowedWindow, unknown>>;
    const errorsBefore = f.errors.length;
    const days = r.days;
    if (
      !Array.isArray(days) ||
      days.length === 0 ||
      !days.every((d) => (WEEKDAYS as readonly unknown[]).includes(d)) ||
      new Set(days).size !== days.length
    ) {
      f.add(`${at}.days`, `must be a non-empty list of distinct days among ${WEEKDAYS.join(', ')}`);
    }
    const start = minutesOf(r.start);
    const end = minutesOf(r.end);
    if (start === null || start === 1440) f.add(`${at}.start`, 'must be a local time HH:mm (00:00–23:59)');
    if (end === null) f.add(`${at}.end`, 'must be a local time HH:mm (00:00–24:00)');
    else if (end === start) {
      f.add(`${at}.end`, 'must differ from start (a whole day is 00:00–24:00)');
    }
    if (f.errors.length === errorsBefore) {
      good.push({ index: i, minutes: weekMinutes(days as Weekday[], start!, end!) });
    }
  });
  // Two ranges covering the same minute say the same thing twice, or one of them is a typo: refused.
  for (let j = 0; j < good.length; j++) {
    for (let i = 0; i < j; i++) {
      const overlap = firstOverlap(good[i].minutes, good[j].minutes);
      if (overlap !== null) {
        f.add(
          `${field}[${good[j].index}]`,
          `overlaps ${field}[${good[i].index}] on ${WEEKDAYS[Math.floor(overlap / 1440) % 7]} (merge them into one range)`,
        );
      }
    }
  }
  return good.length === value.length ? (value as AllowedWindow[]) : [];
}

function validateBlackouts(f: FieldErrors, value: unknown, field: string, defaultZone: string | null): number {
  if (value === undefined) return 0;
  if (!Array.isArray(value) || value.length > WINDOW_LIMITS.maxBlackouts) {
    f.add(field, `must be a list of at most ${WINDOW_LIMITS.maxBlackouts} periods {start, end, timeZone?, reason?}`);
    return 0;
  }
  const good: { index: number; span: Interval }[] = [];
  value.forEach((raw: unknown, i) => {
    const at = `${field}[${i}]`;
    const b = (typeof raw === 'object' && raw !== null ? raw : {}) as Partial<Record<keyof Blackout, unknown>>;
    let zone = defaultZone;
    if (b.timeZone !== undefined) {
      zone = typeof b.timeZone === 'string' && IANAZone.isValidZone(b.timeZone) ? b.timeZone : null;
      if (zone === null) f.add(`${at}.timeZone`, `must be an IANA time zone, not ${JSON.stringify(b.timeZone)}`);
    }
    if (b.reason !== undefined && (typeof b.reason !== 'string' || b.reason.length > WINDOW_LIMITS.maxReason)) {
      f.add(`${at}.reason`, `must be a string of at most ${WINDOW_LIMITS.maxReason} characters`);
    }
    if (zone === null) return;
    const resolve = (key: 'start' | 'end'): number | null => {
      const v = b[key];
      if (typeof v !== 'string') {
        f.add(`${at}.${key}`, 'must be a local date-time YYYY-MM-DDTHH:mm[:ss]');
        return null;
      }
      const r = resolveStart(v, zone);
      if (!r.ok) {
        f.add(`${at}.${key}`, `is invalid: ${r.message}`);
        return null;
      }
      return r.instant.getTime();
    };
    const start = resolve('start');
    const end = resolve('end');
    if (start === null || end === null) return;
    if (end <= start) f.add(`${at}.end`, `must be after ${at}.start`);
    else good.push({ index: i, span: [start, end] });
  });
  for (let j = 0; j < good.length; j++) {
    for (let i = 0; i < j; i++) {
      if (good[i].span[0] < good[j].span[1] && good[j].span[0] < good[i].span[1]) {
        f.add(`${field}[${good[j].index}]`, `overlaps ${field}[${good[i].index}] (merge them into one period)`);
      }
    }
  }
  return good.length;
}

/** A range's minutes of the week (Monday 00:00 = 0), wrapped at the week's end; wall time, DST ignored. */
function weekMinutes(days: readonly Weekday[], start: number, end: number): Interval[] {
  const length = end > start ? end - start : end + 1440 - start;
  const out: Interval[] = [];
  for (const d of days) {
    const s = WEEKDAYS.indexOf(d) * 1440 + start;
    const e = s + length;
    if (e <= WEEK_MINUTES) out.push([s, e]);
    else out.push([s, WEEK_MINUTES], [0, e - WEEK_MINUTES]);
  }
  return out;
}

function firstOverlap(a: readonly Interval[], b: readonly Interval[]): number | null {
  for (const x of a) for (const y of b) if (x[0] < y[1] && y[0] < x[1]) return Math.max(x[0], y[0]);
  return null;
}

/**
 * Whether the wave may start a call at `at` (the engine asks windowOpenFor, with its lead).
 * @internal the tests' and docs' plain question; knip's production pass skips it.
 */
export function isWindowOpenAt(windows: TimeWindows, at: Date): boolean {
  const first = openIntervals(windows, at.getTime()).next();
  return !first.done && first.value[0] <= at.getTime();
}

/** Open at `at` and for more than `leadMs` after it without a break (the engine's test before each batch). */
export function windowOpenFor(windows: TimeWindows, at: Date, leadMs: number): boolean {
  const t = at.getTime();
  const first = openIntervals(windows, t).next();
  return !first.done && first.value[0] <= t && first.value[1] - t > leadMs;
}

/**
 * The next instant after `at` where the wave's windows open or close: the end of the open stretch holding `at`, or
 * the start of the next one. Null: they never change again (always open from here, or never open again).
 */
export function nextWindowTransition(windows: TimeWindows, at: Date): Date | null {
  const t = at.getTime();
  const first = openIntervals(windows, t).next();
  if (first.done) return null;
  const edge = first.value[0] <= t ? first.value[1] : first.value[0];
  return Number.isFinite(edge) ? new Date(edge) : null;
}

/** When the windows next open at or after `at` (`at` itself when open); null if they never open again. */
export function nextWindowOpening(windows: TimeWindows, at: Date): Date | null {
  const t = at.getTime();
  const first = openIntervals(windows, t).next();
  return first.done ? null : new Date(Math.max(first.value[0], t));
}

/** One stretch of a wave's remaining work: sending consumes open time only, waiting (a ramp bake) wall time. */
export type WorkSegment = { send: number } | { wait: number };

/**
 * When the work ends if it begins at `now`: each `send` segment's seconds are spent inside open windows only, each
 * `wait` in wall time. Without windows it is now + the sum. Null when the windows never open again for it.
 */
export function projectedEnd(windows: TimeWindows | null, now: Date, segments: readonly WorkSegment[]): Date | null {
  let cursor = now.getTime();
  for (const segment of segments) {
    if ('wait' in segment) {
      cursor += Math.max(0, segment.wait) * 1000;
      continue;
    }
    let left = Math.max(0, segment.send) * 1000;
    if (windows === null) {
      cursor += left;
      continue;
    }
    if (left === 0) continue;
    let done = false;
    for (const [s, e] of openIntervals(windows, cursor)) {
      const from = Math.max(s, cursor);
      if (e - from >= left) {
        cursor = from + left;
        done = true;
        break;
      }
      left -= e - from;
      cursor = e;
    }
    if (!done) return null;
  }
  return new Date(cursor);
}
