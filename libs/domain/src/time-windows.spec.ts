import fc from 'fast-check';
import { DateTime } from 'luxon';
import {
  AllowedWindow,
  isWindowOpenAt,
  nextWindowOpening,
  nextWindowTransition,
  projectedEnd,
  TimeWindows,
  validateTimeWindows,
  WEEKDAYS,
  windowOpenFor,
} from './time-windows';
import { openIntervals } from './time-window-intervals';
import { transition } from './wave-state';

const PARIS = 'Europe/Paris';
const at = (iso: string) => new Date(iso);
/** A local wall time in Paris as an instant (first occurrence). */
const paris = (local: string) => DateTime.fromISO(local, { zone: PARIS }).toJSDate();
const weekdays: AllowedWindow = { days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '08:00', end: '20:00' };
const office: TimeWindows = { timeZone: PARIS, allowed: [weekdays] };
const everyDay = (start: string, end: string): TimeWindows => ({
  timeZone: PARIS,
  allowed: [{ days: [...WEEKDAYS], start, end }],
});
const iso = (d: Date | null) => d?.toISOString() ?? null;
/** The open stretches over [from, to), as ISO pairs. */
const stretches = (w: TimeWindows, from: string, to: string): [string, string][] => {
  const out: [string, string][] = [];
  for (const [s, e] of openIntervals(w, Date.parse(from))) {
    if (s >= Date.parse(to)) break;
    out.push([new Date(s).toISOString(), Number.isFinite(e) ? new Date(e).toISOString() : 'never']);
  }
  return out;
};
describe('open, closed and the next transition (Mon–Fri 08:00–20:00 Europe/Paris)', () => {
  it.each([
    ['2026-05-11T07:59:59', false, '2026-05-11T08:00:00'], // Monday morning
    ['2026-05-11T08:00:00', true, '2026-05-11T20:00:00'],
    ['2026-05-11T19:59:59', true, '2026-05-11T20:00:00'],
    ['2026-05-11T20:00:00', false, '2026-05-12T08:00:00'],
    ['2026-05-15T20:00:00', false, '2026-05-18T08:00:00'], // Friday evening: Monday
    ['2026-05-16T12:00:00', false, '2026-05-18T08:00:00'], // Saturday
    ['2026-01-15T12:00:00', true, '2026-01-15T20:00:00'], // winter time
  ])('%s Paris: open %s, next change %s', (local, open, next) => {
    expect(isWindowOpenAt(office, paris(local))).toBe(open);
    expect(iso(nextWindowTransition(office, paris(local)))).toBe(iso(paris(next)));
    expect(iso(nextWindowOpening(office, paris(local)))).toBe(iso(open ? paris(local) : paris(next)));
  });

  it('is open for a lead only when it stays open that long', () => {
    expect(windowOpenFor(office, paris('2026-05-11T19:59:58'), 1000)).toBe(true);
    expect(windowOpenFor(office, paris('2026-05-11T19:59:59.500'), 1000)).toBe(false);
    expect(windowOpenFor(office, paris('2026-05-11T07:59:59.500'), 1000)).toBe(false);
  });

  it('in summer and in winter the same local hours are different instants', () => {
    expect(stretches(office, '2026-05-11T00:00:00Z', '2026-05-12T00:00:00Z')).toEqual([
      ['2026-05-11T06:00:00.000Z', '2026-05-11T18:00:00.000Z'],
    ]);
    expect(stretches(office, '2026-01-12T00:00:00Z', '2026-01-13T00:00:00Z')).toEqual([
      ['2026-01-12T07:00:00.000Z', '2026-01-12T19:00:00.000Z'],
    ]);
  });
});

describe('ranges crossing midnight', () => {
  const nights: TimeWindows = { timeZone: PARIS, allowed: [{ days: ['fri', 'sun'], start: '22:00', end: '06:00' }] };

  it('belong to their start day and end the next morning (Sunday into Monday too)', () => {
    expect(isWindowOpenAt(nights, paris('2026-05-16T03:00'))).toBe(true); // Saturday 03:00: Friday's night
    expect(isWindowOpenAt(nights, paris('2026-05-16T06:00'))).toBe(false);
    expect(isWindowOpenAt(nights, paris('2026-05-17T03:00'))).toBe(false); // Sunday 03:00: no Saturday night
    expect(isWindowOpenAt(nights, paris('2026-05-18T05:59'))).toBe(true); // Monday: Sunday's night
    expect(stretches(nights, '2026-05-15T00:00:00Z', '2026-05-19T00:00:00Z')).toEqual([
      ['2026-05-15T20:00:00.000Z', '2026-05-16T04:00:00.000Z'],
      ['2026-05-17T20:00:00.000Z', '2026-05-18T04:00:00.000Z'],
    ]);
  });

  it('merge with the next day when they touch (00:00–24:00 every day is always open)', () => {
    expect(nextWindowTransition(everyDay('00:00', '24:00'), at('2026-05-11T12:00:00Z'))).toBeNull();
    expect(isWindowOpenAt(everyDay('00:00', '24:00'), at('2026-03-29T01:30:00Z'))).toBe(true);
    const twoDays: TimeWindows = {
      timeZone: PARIS,
      allowed: [
        { days: ['sat'], start: '00:00', end: '24:00' },
        { days: ['sun'], start: '00:00', end: '24:00' },
      ],
    };
    expect(stretches(twoDays, '2026-05-15T00:00:00Z', '2026-05-19T00:00:00Z')).toEqual([
      ['2026-05-15T22:00:00.000Z', '2026-05-17T22:00:00.000Z'],
    ]);
  });
});

describe('DST in Europe/Paris', () => {
  // 2026-03-29: 02:00 CET -> 03:00 CEST at 01:00Z. 2026-10-25: 03:00 CEST -> 02:00 CET at 01:00Z.
  const sunday = (start: string, end: string): TimeWindows => ({
    timeZone: PARIS,
    allowed: [{ days: ['sun'], start, end }],
  });

  it('spring: a range inside the skipped hour never opens; one starting in it opens when the clocks jump', () => {
    expect(stretches(sunday('02:00', '03:00'), '2026-03-28T00:00:00Z', '2026-03-30T00:00:00Z')).toEqual([]);
    expect(stretches(sunday('02:30', '04:00'), '2026-03-28T00:00:00Z', '2026-03-30T00:00:00Z')).toEqual([
      ['2026-03-29T01:00:00.000Z', '2026-03-29T02:00:00.000Z'],
    ]);
    expect(stretches(sunday('01:00', '02:30'), '2026-03-28T00:00:00Z', '2026-03-30T00:00:00Z')).toEqual([
      ['2026-03-29T00:00:00.000Z', '2026-03-29T01:00:00.000Z'],
    ]);
    // The whole day lasts 23 hours; the next Sunday 24 again.
    expect(stretches(sunday('00:00', '24:00'), '2026-03-28T00:00:00Z', '2026-04-06T00:00:00Z')).toEqual([
      ['2026-03-28T23:00:00.000Z', '2026-03-29T22:00:00.000Z'],
      ['2026-04-04T22:00:00.000Z', '2026-04-05T22:00:00.000Z'],
    ]);
    // Just before the jump: closed, and the window opens at the jump itself.
    const w = sunday('02:30', '04:00');
    expect(isWindowOpenAt(w, at('2026-03-29T00:59:59Z'))).toBe(false);
    expect(iso(nextWindowTransition(w, at('2026-03-29T00:59:59Z')))).toBe('2026-03-29T01:00:00.000Z');
    expect(isWindowOpenAt(w, at('2026-03-29T01:00:00Z'))).toBe(true);
  });

  it('autumn: the repeated hour is inside the window both times', () => {
    expect(stretches(sunday('02:00', '03:00'), '2026-10-24T00:00:00Z', '2026-10-26T00:00:00Z')).toEqual([
      ['2026-10-25T00:00:00.000Z', '2026-10-25T02:00:00.000Z'],
    ]);
    expect(stretches(sunday('02:30', '05:00'), '2026-10-24T00:00:00Z', '2026-10-26T00:00:00Z')).toEqual([
      ['2026-10-25T00:30:00.000Z', '2026-10-25T04:00:00.000Z'],
    ]);
    // 02:15 the second time (CET, 01:15Z) is inside 02:30–05:00, which began at the first 02:30.
    expect(isWindowOpenAt(sunday('02:30', '05:00'), at('2026-10-25T01:15:00Z'))).toBe(true);
    expect(stretches(sunday('00:00', '24:00'), '2026-10-24T00:00:00Z', '2026-10-26T00:00:00Z')).toEqual([
      ['2026-10-24T22:00:00.000Z', '2026-10-25T23:00:00.000Z'],
    ]);
    // A window that closes at the first 03:00 CEST... which never shows: the clock goes back at 03:00 to 02:00.
    expect(iso(nextWindowTransition(sunday('01:00', '03:00'), at('2026-10-25T00:59:59Z')))).toBe(
      '2026-10-25T02:00:00.000Z',
    );
  });

  it('blackouts in the repeated hour take its first occurrence', () => {
    const w: TimeWindows = { timeZone: PARIS, blackouts: [{ start: '2026-10-25T02:30', end: '2026-10-25T03:00' }] };
    expect(stretches(w, '2026-10-25T00:00:00Z', '2026-10-26T00:00:00Z')).toEqual([
      ['2026-10-25T00:00:00.000Z', '2026-10-25T00:30:00.000Z'],
      ['2026-10-25T02:00:00.000Z', 'never'],
    ]);
  });
});

describe('blackouts', () => {
  const lunch: TimeWindows = {
    ...office,
    blackouts: [{ start: '2026-05-11T12:00', end: '2026-05-11T13:30', reason: 'deploy freeze' }],
  };

  it('close a window for their span, and only theirs', () => {
    expect(isWindowOpenAt(lunch, paris('2026-05-11T11:59'))).toBe(true);
    expect(iso(nextWindowTransition(lunch, paris('2026-05-11T11:59')))).toBe(iso(paris('2026-05-11T12:00')));
    expect(isWindowOpenAt(lunch, paris('2026-05-11T12:30'))).toBe(false);
    expect(iso(nextWindowOpening(lunch, paris('2026-05-11T12:30')))).toBe(iso(paris('2026-05-11T13:30')));
    expect(isWindowOpenAt(lunch, paris('2026-05-18T12:30'))).toBe(true); // a week later
  });

  it('over a window boundary, move its opening; alone, close an always-open wave until they end', () => {
    const morning: TimeWindows = { ...office, blackouts: [{ start: '2026-05-11T06:00', end: '2026-05-11T09:15' }] };
    expect(iso(nextWindowOpening(morning, paris('2026-05-11T07:00')))).toBe(iso(paris('2026-05-11T09:15')));
    const only: TimeWindows = {
      timeZone: 'UTC',
      blackouts: [{ start: '2026-05-11T10:00:00', end: '2026-05-11T10:00:05' }],
    };
    expect(isWindowOpenAt(only, at('2026-05-11T09:59:59Z'))).toBe(true);
    expect(iso(nextWindowTransition(only, at('2026-05-11T09:59:59Z')))).toBe('2026-05-11T10:00:00.000Z');
    expect(iso(nextWindowTransition(only, at('2026-05-11T10:00:01Z')))).toBe('2026-05-11T10:00:05.000Z');
    expect(nextWindowTransition(only, at('2026-05-11T10:00:05Z'))).toBeNull();
  });

  it('covering a month of allowed ranges: the next opening is the first range after it', () => {
    const w: TimeWindows = {
      timeZone: 'UTC',
      allowed: [{ days: ['mon'], start: '08:00', end: '09:00' }],
      blackouts: [{ start: '2026-05-01T00:00', end: '2026-06-01T00:00' }],
    };
    expect(iso(nextWindowOpening(w, at('2026-05-10T00:00:00Z')))).toBe('2026-06-01T08:00:00.000Z');
  });

  it('years long (a typo in the year): answered at once, not week by week (the pump asks before each batch)', () => {
    const w: TimeWindows = {
      ...office,
      blackouts: [{ start: '2026-12-24T00:00', end: '2226-12-26T00:00', reason: 'typo: 2226 for 2026' }],
    };
    const started = performance.now();
    expect(isWindowOpenAt(w, paris('2026-12-28T10:00'))).toBe(false);
    expect(windowOpenFor(w, paris('2026-12-28T10:00'), 1000)).toBe(false);
    expect(iso(nextWindowOpening(w, paris('2026-12-28T10:00')))).toBe(iso(paris('2226-12-26T08:00')));
    expect(iso(nextWindowTransition(w, paris('2026-12-23T19:00')))).toBe(iso(paris('2026-12-23T20:00')));
    // Week by week, each question took seconds here (0.5 s for ten years, hours to year 9999), blocking the worker.
    expect(performance.now() - started).toBeLessThan(1000);
  });
});

describe('projectedEnd', () => {
  it('without windows: now plus the work', () => {
    expect(iso(projectedEnd(null, at('2026-05-11T00:00:00Z'), [{ send: 90 }, { wait: 30 }]))).toBe(
      '2026-05-11T00:02:00.000Z',
    );
  });

  it('sends inside the windows only, waits (bakes) in wall time', () => {
    // 13 hours of sending from Monday 08:00: 12 on Monday, 1 on Tuesday.
    expect(iso(projectedEnd(office, paris('2026-05-11T08:00'), [{ send: 13 * 3600 }]))).toBe(
      iso(paris('2026-05-12T09:00')),
    );
    // Two hours from Friday 19:00: one on Friday, one on Monday.
    expect(iso(projectedEnd(office, paris('2026-05-15T19:00'), [{ send: 7200 }]))).toBe(iso(paris('2026-05-18T09:00')));
    // Started on Saturday: nothing happens before Monday.
    expect(iso(projectedEnd(office, paris('2026-05-16T10:00'), [{ send: 60 }]))).toBe(iso(paris('2026-05-18T08:01')));
    // Send 1 h, bake 14 h (through the night), send 1 h.
    expect(
      iso(projectedEnd(office, paris('2026-05-11T18:00'), [{ send: 3600 }, { wait: 14 * 3600 }, { send: 3600 }])),
    ).toBe(iso(paris('2026-05-12T10:00')));
    expect(iso(projectedEnd(office, paris('2026-05-11T18:00'), [{ send: 0 }]))).toBe(iso(paris('2026-05-11T18:00')));
  });

  it('counts the short spring Sunday and the long autumn one', () => {
    const sundays: TimeWindows = { timeZone: PARIS, allowed: [{ days: ['sun'], start: '00:00', end: '24:00' }] };
    // 24 hours of work from the start of the 23-hour Sunday: one more hour the next Sunday.
    expect(iso(projectedEnd(sundays, paris('2026-03-29T00:00'), [{ send: 24 * 3600 }]))).toBe(
      iso(paris('2026-04-05T01:00')),
    );
    // 24 hours in the 25-hour one: done at 23:00 local.
    expect(iso(projectedEnd(sundays, paris('2026-10-25T00:00'), [{ send: 24 * 3600 }]))).toBe(
      '2026-10-25T22:00:00.000Z',
    );
  });
});

describe('window transitions in the state machine', () => {
  it('the service closes a running wave and opens only a wave it closed itself', () => {
    expect(transition('running', 'window_closed')).toMatchObject({
      ok: true,
      to: 'paused',
      pauseReason: 'outside_window',
    });
    expect(transition('paused', 'window_closed', { currentReason: 'outside_window' })).toMatchObject({
      ok: true,
      noop: true,
    });
    expect(transition('paused', 'window_opened', { currentReason: 'outside_window' })).toMatchObject({
      ok: true,
      to: 'running',
    });
    for (const reason of ['ops', 'ramp_bake', 'gate:errors', 'mailstore_unreachable'] as const) {
      expect(transition('paused', 'window_opened', { currentReason: reason })).toMatchObject({ ok: false });
      expect(transition('paused', 'window_closed', { currentReason: reason })).toMatchObject({ ok: false });
    }
    for (const state of ['halted', 'draft', 'scheduled', 'completed', 'rolling_back'] as const) {
      expect(transition(state, 'window_opened', { currentReason: 'outside_window' })).toMatchObject({ ok: false });
    }
    // Ops pausing a wave that waits for its window makes it theirs: the window opening does not resume it.
    const paused = transition('paused', 'pause', { actor: 'ops', currentReason: 'outside_window' });
    expect(paused).toMatchObject({ ok: true, noop: false, pauseReason: 'ops' });
    expect(transition('paused', 'window_opened', { currentReason: 'ops' })).toMatchObject({ ok: false });
    // Ops may resume it (the engine closes it again while the window stays closed).
    expect(transition('paused', 'resume', { actor: 'ops', currentReason: 'outside_window' })).toMatchObject({
      ok: true,
      to: 'running',
    });
  });
});

describe('properties', () => {
  const zones = ['Europe/Paris', 'America/New_York', 'Australia/Lord_Howe', 'Asia/Kolkata', 'UTC'] as const;
  const hhmm = fc
    .tuple(fc.integer({ min: 0, max: 23 }), fc.constantFrom(0, 15, 30, 45))
    .map(([h, m]) => `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}`);
  const range = fc
    .record({
      days: fc.subarray([...WEEKDAYS], { minLength: 1 }),
      start: hhmm,
      end: fc.oneof(hhmm, fc.constant('24:00')),
    })
    .filter((r) => r.start !== r.end);
  const windows: fc.Arbitrary<TimeWindows> = fc
    .record({ timeZone: fc.constantFrom(...zones), allowed: fc.array(range, { minLength: 1, maxLength: 3 }) })
    .filter((w) => validateTimeWindows(w).length === 0);
  // Around both 2026 changes in Europe and North America, and a quiet week.
  const instant = fc
    .oneof(
      fc.integer({ min: Date.parse('2026-03-06T00:00Z'), max: Date.parse('2026-04-02T00:00Z') }),
      fc.integer({ min: Date.parse('2026-10-01T00:00Z'), max: Date.parse('2026-11-05T00:00Z') }),
      fc.integer({ min: Date.parse('2026-06-01T00:00Z'), max: Date.parse('2026-06-08T00:00Z') }),
    )
    .map((ms) => new Date(ms));

  it('nothing changes between an instant and its next transition, and something changes at it', () => {
    fc.assert(
      fc.property(windows, instant, fc.double({ min: 0, max: 1, noNaN: true }), (w, t, f) => {
        const open = isWindowOpenAt(w, t);
        const next = nextWindowTransition(w, t);
        if (next === null) return;
        expect(next.getTime()).toBeGreaterThan(t.getTime());
        const between = new Date(t.getTime() + Math.floor(f * (next.getTime() - t.getTime() - 1)));
        expect(isWindowOpenAt(w, between)).toBe(open);
        expect(isWindowOpenAt(w, next)).toBe(!open);
      }),
      { numRuns: 300 },
    );
  });

  it('away from DST changes, open means the wall clock is inside a range (as luxon reads it)', () => {
    const quiet = fc.integer({ min: Date.parse('2026-06-01T00:00Z'), max: Date.parse('2026-06-08T00:00Z') });
    fc.assert(
      fc.property(windows, quiet, (w, ms) => {
        const local = DateTime.fromMillis(ms, { zone: w.timeZone });
        const minute = local.hour * 60 + local.minute;
        const today = WEEKDAYS[local.weekday - 1];
        const yesterday = WEEKDAYS[(local.weekday + 5) % 7];
        const inside = (w.allowed ?? []).some((r) => {
          const [s, e] = [r.start, r.end].map((x) => Number(x.slice(0, 2)) * 60 + Number(x.slice(3)));
          if (e > s) return r.days.includes(today) && minute >= s && minute < e;
          return (r.days.includes(today) && minute >= s) || (r.days.includes(yesterday) && minute < e);
        });
        expect(isWindowOpenAt(w, new Date(ms))).toBe(inside);
      }),
      { numRuns: 300 },
    );
  });

  it('the next opening is open, and the projected end spends exactly the work inside the windows', () => {
    fc.assert(
      fc.property(windows, instant, fc.integer({ min: 0, max: 2 * 86_400 }), (w, t, seconds) => {
        const opening = nextWindowOpening(w, t)!;
        expect(isWindowOpenAt(w, opening)).toBe(true);
        const end = projectedEnd(w, t, [{ send: seconds }])!;
        let spent = 0;
        for (const [s, e] of openIntervals(w, t.getTime())) {
          if (s >= end.getTime()) break;
          spent += Math.min(e, end.getTime()) - Math.max(s, t.getTime());
        }
        expect(spent).toBe(seconds * 1000);
        expect(projectedEnd(w, t, [{ send: seconds + 60 }])!.getTime()).toBeGreaterThan(end.getTime());
      }),
      { numRuns: 100 },
    );
  });
});
