import fc from 'fast-check';
import { DateTime } from 'luxon';
import { formatOffset, resolveStart, SCHEDULE_LATE_GRACE_MS, scheduleRefusal } from './schedule';

describe('resolveStart', () => {
  it.each([
    // [local, zone, instant, offset minutes]
    ['2026-05-09T08:00', 'Europe/Paris', '2026-05-09T06:00:00.000Z', 120],
    ['2026-05-11T08:00', 'Europe/Paris', '2026-05-11T06:00:00.000Z', 120],
    ['2026-01-15T08:00', 'Europe/Paris', '2026-01-15T07:00:00.000Z', 60],
    ['2026-05-09T08:00:30', 'Europe/Paris', '2026-05-09T06:00:30.000Z', 120],
    ['2026-03-29T01:59', 'Europe/Paris', '2026-03-29T00:59:00.000Z', 60],
    ['2026-03-29T03:00', 'Europe/Paris', '2026-03-29T01:00:00.000Z', 120],
    ['2026-10-25T01:59', 'Europe/Paris', '2026-10-24T23:59:00.000Z', 120],
    ['2026-10-25T03:00', 'Europe/Paris', '2026-10-25T02:00:00.000Z', 60],
    ['2026-05-09T08:00', 'America/New_York', '2026-05-09T12:00:00.000Z', -240],
    ['2026-01-15T08:00', 'America/New_York', '2026-01-15T13:00:00.000Z', -300],
    ['2026-03-08T01:59', 'America/New_York', '2026-03-08T06:59:00.000Z', -300],
    ['2026-03-08T03:00', 'America/New_York', '2026-03-08T07:00:00.000Z', -240],
    ['2026-05-09T08:00', 'Asia/Kolkata', '2026-05-09T02:30:00.000Z', 330],
    ['2026-05-09T08:00', 'UTC', '2026-05-09T08:00:00.000Z', 0],
    ['2028-02-29T12:00', 'Europe/Paris', '2028-02-29T11:00:00.000Z', 60],
  ])('%s %s -> %s (UTC offset %i min)', (local, zone, instant, offset) => {
    const result = resolveStart(local, zone);
    expect(result).toMatchObject({ ok: true, offsetMinutes: offset });
    if (result.ok) {
      expect(result.instant.toISOString()).toBe(instant);
      expect(result.note).toBeUndefined();
    }
  });

  it('takes years 0-99 literally (no 1900s as with Date.UTC): a start in year 0050 is in year 0050', () => {
    const result = resolveStart('0050-05-09T08:00', 'UTC');
    expect(result).toMatchObject({ ok: true });
    if (result.ok) expect(result.instant.getUTCFullYear()).toBe(50);
  });

  it.each([
    // spring forward: [local, zone, suggestion]
    ['2026-03-29T02:30', 'Europe/Paris', '2026-03-29T03:00'],
    ['2026-03-29T02:00', 'Europe/Paris', '2026-03-29T03:00'],
    ['2026-03-29T02:59:59', 'Europe/Paris', '2026-03-29T03:00:00'],
    ['2026-03-08T02:30', 'America/New_York', '2026-03-08T03:00'],
    ['2026-03-08T02:00', 'America/New_York', '2026-03-08T03:00'],
    ['2026-10-04T02:15', 'Australia/Lord_Howe', '2026-10-04T02:30'],
    ['2026-10-04T02:30', 'Australia/Sydney', '2026-10-04T03:00'],
    // Samoa skipped 30 December 2011 entirely when it crossed the date line.
    ['2011-12-30T12:00', 'Pacific/Apia', '2011-12-31T00:00'],
  ])('%s %s does not exist; suggests %s', (local, zone, suggestion) => {
    const result = resolveStart(local, zone);
    expect(result).toMatchObject({ ok: false, code: 'nonexistent_local_time', suggestion });
    if (!result.ok) {
      expect(result.message).toContain(local);
      expect(result.message).toContain(`next valid time is ${suggestion}`);
    }
    expect(resolveStart(suggestion, zone).ok).toBe(true);
  });

  it.each([
    // fall back: [local, zone, first instant, offset, second instant]
    ['2026-10-25T02:30', 'Europe/Paris', '2026-10-25T00:30:00.000Z', 120, '2026-10-25T01:30:00.000Z'],
    ['2026-10-25T02:00', 'Europe/Paris', '2026-10-25T00:00:00.000Z', 120, '2026-10-25T01:00:00.000Z'],
    ['2026-10-25T02:59:59', 'Europe/Paris', '2026-10-25T00:59:59.000Z', 120, '2026-10-25T01:59:59.000Z'],
    ['2026-11-01T01:30', 'America/New_York', '2026-11-01T05:30:00.000Z', -240, '2026-11-01T06:30:00.000Z'],
    ['2026-11-01T01:00', 'America/New_York', '2026-11-01T05:00:00.000Z', -240, '2026-11-01T06:00:00.000Z'],
    ['2026-04-05T01:45', 'Australia/Lord_Howe', '2026-04-04T14:45:00.000Z', 660, '2026-04-04T15:15:00.000Z'],
  ])('%s %s is ambiguous: the earlier instant %s is used and noted', (local, zone, first, offset, second) => {
    const result = resolveStart(local, zone);
    expect(result).toMatchObject({ ok: true, offsetMinutes: offset });
    if (result.ok) {
      expect(result.instant.toISOString()).toBe(first);
      expect(result.note).toContain('first occurrence');
      expect(result.note).toContain(first);
      expect(result.note).toContain(second);
    }
  });

  it.each(['Europe/Pariss', 'Mars/Olympus', '+02:00', 'CEST', ''])('refuses the time zone %p', (zone) => {
    expect(resolveStart('2026-05-09T08:00', zone)).toMatchObject({ ok: false, code: 'invalid_time_zone' });
  });

  it.each([
    '2026-02-30T08:00',
    '2026-13-01T08:00',
    '2026-05-09T24:00',
    '2026-05-09T08:60',
    '2026-05-09T08:00:60',
    '2026-05-09 08:00',
    '2026-05-09T08',
    '2026-05-09T08:00Z',
    '2026-05-09T08:00+02:00',
    '2026-05-09T08:00:00.000',
    '9 May 08:00',
    '',
  ])('refuses the local time %p', (local) => {
    expect(resolveStart(local, 'Europe/Paris')).toMatchObject({ ok: false, code: 'invalid_local_time' });
  });

  it('answers with the canonical zone name', () => {
    expect(resolveStart('2026-05-09T08:00', 'europe/paris')).toMatchObject({ ok: true, timeZone: 'Europe/Paris' });
  });

  const zones = ['Europe/Paris', 'America/New_York', 'Australia/Lord_Howe', 'Asia/Kolkata', 'America/Santiago'];
  const instants = fc.integer({ min: Date.UTC(2020, 0, 1) / 60_000, max: Date.UTC(2030, 0, 1) / 60_000 });

  it('property: the wall time of any instant resolves to that instant, or to the earlier one of a pair', () => {
    fc.assert(
      fc.property(instants, fc.constantFrom(...zones), (minutes, zone) => {
        const instant = minutes * 60_000;
        const local = DateTime.fromMillis(instant, { zone }).toFormat("yyyy-MM-dd'T'HH:mm");
        const result = resolveStart(local, zone);
        if (!result.ok) return false;
        const sameWall = DateTime.fromJSDate(result.instant, { zone }).toFormat("yyyy-MM-dd'T'HH:mm") === local;
        const resolved = result.instant.getTime();
        return sameWall && (result.note === undefined ? resolved === instant : resolved <= instant);
      }),
      { numRuns: 2000 },
    );
  });

  it('property: a refused wall time is inside a gap whose end is the suggestion', () => {
    fc.assert(
      fc.property(instants, fc.constantFrom(...zones), (minutes, zone) => {
        const local = DateTime.fromMillis(minutes * 60_000, { zone: 'UTC' }).toFormat("yyyy-MM-dd'T'HH:mm");
        const result = resolveStart(local, zone);
        if (result.ok) return DateTime.fromJSDate(result.instant, { zone }).toFormat("yyyy-MM-dd'T'HH:mm") === local;
        return (
          result.code === 'nonexistent_local_time' &&
          result.suggestion! > local &&
          resolveStart(result.suggestion!, zone).ok
        );
      }),
      { numRuns: 2000 },
    );
  });
});

describe('formatOffset', () => {
  it.each([
    [0, '+00:00'],
    [120, '+02:00'],
    [-240, '-04:00'],
    [330, '+05:30'],
    [-570, '-09:30'],
  ])('%i -> %s', (minutes, text) => {
    expect(formatOffset(minutes)).toBe(text);
  });
});

describe('scheduleRefusal: a start long past is not armed', () => {
  const start = new Date('2026-05-09T06:00:00.000Z');
  const at = (ms: number) => new Date(start.getTime() + ms);

  it('lets a start in the future or up to the grace ago be scheduled', () => {
    expect(scheduleRefusal(start, at(-86_400_000))).toBeNull();
    expect(scheduleRefusal(start, at(0))).toBeNull();
    expect(scheduleRefusal(start, at(SCHEDULE_LATE_GRACE_MS))).toBeNull();
    expect(SCHEDULE_LATE_GRACE_MS).toBe(15 * 60_000);
  });

  it('refuses past the grace, saying how late in a unit a person reads, and what to do', () => {
    expect(scheduleRefusal(start, at(SCHEDULE_LATE_GRACE_MS + 1))).toBe(
      'its start (2026-05-09T06:00:00.000Z) passed 15 min ago, more than the 15 min a schedule may be late: ' +
        'set a new startLocal (PATCH), or start it now (start)',
    );
    expect(scheduleRefusal(start, at(3 * 3_600_000))).toMatch(/passed 3 h ago/);
    expect(scheduleRefusal(start, at(212 * 86_400_000 + 5))).toMatch(/passed 212 days ago/);
  });
});
