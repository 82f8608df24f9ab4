import { DateTime, IANAZone } from 'luxon';
import { firstInstantAfterGap, resolveStart } from './schedule';

/**
 * The shapes of a wave's time windows and the instants they are open (time-windows.ts says what the windows mean,
 * DST included, and asks the questions; this file finds the instants).
 */

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export interface AllowedWindow {
  days: Weekday[];
  /** Local wall time HH:mm. */
  start: string;
  /** Local wall time HH:mm, or 24:00; earlier than `start`: the range ends the next day. */
  end: string;
}

export interface Blackout {
  /** Local date-time YYYY-MM-DDTHH:mm[:ss] in `timeZone` (default: the windows' zone). */
  start: string;
  end: string;
  timeZone?: string;
  reason?: string;
}

export interface TimeWindows {
  timeZone: string;
  allowed?: AllowedWindow[];
  blackouts?: Blackout[];
}

const MINUTE = 60_000;
const DAY = 86_400_000;
/** Open intervals are built a week at a time. */
const CHUNK = 7 * DAY;
const TIME = /^(?:([01]\d|2[0-3]):([0-5]\d)|(24):(00))$/;

/** An open (or closed) stretch, [start, end) in epoch milliseconds, or minutes of the week in validation. */
export type Interval = [start: number, end: number];

/** HH:mm as minutes of the day (24:00 is 1440); null if malformed. */
export function minutesOf(value: unknown): number | null {
  if (typeof value !== 'string') return null;
  const m = TIME.exec(value);
  if (!m) return null;
  return m[3] !== undefined ? 1440 : Number(m[1]) * 60 + Number(m[2]);
}

/**
 * The maximal open stretches [start, end) that end after `from`, in order; the last one may end at Infinity (always
 * open from there). Built a day, then a week at a time: once past every blackout, a week with no change means none
 * will come.
 */
export function* openIntervals(windows: TimeWindows, from: number): Generator<Interval> {
  const zone = IANAZone.create(windows.timeZone);
  const blackouts = resolvedBlackouts(windows);
  const settled = Math.max(from, ...blackouts.map((b) => b[1])) + CHUNK;
  let pending: Interval | null = null;
  // A first day alone (most questions are about now), then a week at a time; a blackout is stepped over whole (one
  // years long, a typo in its year, would otherwise cost a week's work per week of it on every question).
  for (let a = from, size = DAY; ; a += size, size = CHUNK) {
    a = Math.max(a, blackouts.find(([s, e]) => s <= a && a < e)?.[1] ?? a);
    const b = a + size;
    const chunk = subtract(allowedIn(windows, zone, a, b), blackouts);
    for (const iv of chunk) {
      if (pending && pending[1] === iv[0]) pending[1] = iv[1];
      else {
        if (pending) yield pending;
        pending = [iv[0], iv[1]];
      }
    }
    if (a >= settled) {
      // A whole week past every blackout: the pattern only repeats from here.
      if (pending && pending[0] <= a && pending[1] === b) {
        yield [pending[0], Number.POSITIVE_INFINITY];
        return;
      }
      if (chunk.length === 0) {
        if (pending) yield pending;
        return;
      }
    }
  }
}

/** The allowed ranges' instants within [a, b), merged (the whole span when there is no range). */
function allowedIn(windows: TimeWindows, zone: IANAZone, a: number, b: number): Interval[] {
  const ranges = windows.allowed ?? [];
  if (ranges.length === 0) return [[a, b]];
  const out: Interval[] = [];
  // From the local date before `a` (a range that crossed midnight) to the one after `b`.
  let date = DateTime.fromMillis(a - DAY, { zone }).startOf('day');
  const last = DateTime.fromMillis(b + DAY, { zone }).startOf('day');
  while (date <= last) {
    // The local date's midnight read as if it were UTC (luxon, not Date.UTC: years 0–99 stay themselves).
    const day = DateTime.utc(date.year, date.month, date.day).toMillis();
    const weekday = WEEKDAYS[date.weekday - 1];
    for (const r of ranges) {
      if (!r.days.includes(weekday)) continue;
      const start = minutesOf(r.start)!;
      const endMinutes = minutesOf(r.end)!;
      const end = endMinutes > start ? endMinutes : endMinutes + 1440;
      const s = reachWall(zone, day + start * MINUTE);
      const e = reachWall(zone, day + end * MINUTE);
      const from = Math.max(s, a);
      const to = Math.min(e, b);
      if (to > from) out.push([from, to]);
    }
    date = date.plus({ days: 1 });
  }
  return merge(out);
}

/**
 * The zone's offset at an instant, remembered: luxon computes each with Intl's formatToParts (90 % of a window
 * question's time, profiled), and the instants asked are the same day boundaries again and again. Deterministic, so
 * the rules stay pure; bounded.
 */
const OFFSETS = new Map<string, number>();
function offsetAt(zone: IANAZone, ms: number): number {
  const key = `${zone.name}|${ms}`;
  let offset = OFFSETS.get(key);
  if (offset === undefined) {
    if (OFFSETS.size >= 100_000) OFFSETS.clear();
    offset = zone.offset(ms);
    OFFSETS.set(key, offset);
  }
  return offset;
}

/** The first instant at which the zone's wall clock reads `wallMs` (as UTC millis) or later. */
function reachWall(zone: IANAZone, wallMs: number): number {
  const offsets = new Set([-DAY, 0, DAY].map((shift) => offsetAt(zone, wallMs + shift)));
  let best = Number.POSITIVE_INFINITY;
  for (const offset of offsets) {
    const instant = wallMs - offset * MINUTE;
    if (offsetAt(zone, instant) * MINUTE + instant === wallMs) best = Math.min(best, instant);
  }
  if (Number.isFinite(best)) return best;
  // In a gap: the wall clock first reads a later time at the transition itself.
  return firstInstantAfterGap(zone, wallMs, offsets);
}

function resolvedBlackouts(windows: TimeWindows): Interval[] {
  const out: Interval[] = [];
  for (const b of windows.blackouts ?? []) {
    const zone = b.timeZone ?? windows.timeZone;
    const s = resolvedLocal(b.start, zone);
    const e = resolvedLocal(b.end, zone);
    if (s !== null && e !== null && e > s) out.push([s, e]);
  }
  return merge(out);
}

/** resolveStart's instant (null if refused), remembered as offsetAt is: it builds an Intl formatter per call. */
const RESOLVED = new Map<string, number | null>();
function resolvedLocal(local: string, zone: string): number | null {
  const key = `${zone}|${local}`;
  let instant = RESOLVED.get(key);
  if (instant === undefined) {
    if (RESOLVED.size >= 10_000) RESOLVED.clear();
    const r = resolveStart(local, zone);
    instant = r.ok ? r.instant.getTime() : null;
    RESOLVED.set(key, instant);
  }
  return instant;
}

function merge(intervals: Interval[]): Interval[] {
  const sorted = [...intervals].sort((x, y) => x[0] - y[0]);
  const out: Interval[] = [];
  for (const iv of sorted) {
    const last = out[out.length - 1];
    if (last && iv[0] <= last[1]) last[1] = Math.max(last[1], iv[1]);
    else out.push([iv[0], iv[1]]);
  }
  return out;
}

/** `open` minus `closed` (both sorted and disjoint). */
function subtract(open: Interval[], closed: Interval[]): Interval[] {
  const out: Interval[] = [];
  for (const [s0, e] of open) {
    let s = s0;
    for (const [cs, ce] of closed) {
      if (ce <= s || cs >= e) continue;
      if (cs > s) out.push([s, cs]);
      s = Math.max(s, ce);
      if (s >= e) break;
    }
    if (s < e) out.push([s, e]);
  }
  return out;
}
