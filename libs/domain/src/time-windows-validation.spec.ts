import { AllowedWindow, TimeWindows, validateTimeWindows } from './time-windows';

/** A wave's `windows` as the API takes them: what is refused, and the field each refusal names. */
const PARIS = 'Europe/Paris';
const weekdays: AllowedWindow = { days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '08:00', end: '20:00' };
const office: TimeWindows = { timeZone: PARIS, allowed: [weekdays] };
const fields = (input: unknown) => validateTimeWindows(input).map((e) => e.field);

describe('validateTimeWindows', () => {
  it('accepts null, absent, and well-formed windows', () => {
    expect(validateTimeWindows(null)).toEqual([]);
    expect(validateTimeWindows(undefined)).toEqual([]);
    expect(validateTimeWindows(office)).toEqual([]);
    expect(
      validateTimeWindows({
        timeZone: PARIS,
        allowed: [
          weekdays,
          { days: ['sat'], start: '22:00', end: '06:00' },
          { days: ['sun'], start: '10:00', end: '24:00' },
        ],
        blackouts: [
          { start: '2026-05-14T00:00', end: '2026-05-15T00:00', reason: 'Ascension' },
          { start: '2026-12-24T18:00:30', end: '2026-12-26T00:00', timeZone: 'America/New_York' },
        ],
      }),
    ).toEqual([]);
    expect(
      validateTimeWindows({ timeZone: 'UTC', blackouts: [{ start: '2026-01-01T00:00', end: '2026-01-02T00:00' }] }),
    ).toEqual([]);
  });

  it('names the field of each mistake', () => {
    expect(fields('mon-fri')).toEqual(['windows']);
    expect(fields({ timeZone: 'Europe/Atlantis', allowed: [weekdays] })).toEqual(['windows.timeZone']);
    expect(fields({ timeZone: PARIS })).toEqual(['windows']);
    expect(fields({ timeZone: PARIS, allowed: 'always' })).toEqual(['windows.allowed']);
    expect(fields({ timeZone: PARIS, allowed: [{ ...weekdays, days: [] }] })).toEqual(['windows.allowed[0].days']);
    expect(fields({ timeZone: PARIS, allowed: [{ ...weekdays, days: ['monday'] }] })).toEqual([
      'windows.allowed[0].days',
    ]);
    expect(fields({ timeZone: PARIS, allowed: [{ ...weekdays, days: ['mon', 'mon'] }] })).toEqual([
      'windows.allowed[0].days',
    ]);
    expect(fields({ timeZone: PARIS, allowed: [{ ...weekdays, start: '8:00' }] })).toEqual([
      'windows.allowed[0].start',
    ]);
    expect(fields({ timeZone: PARIS, allowed: [{ ...weekdays, start: '24:00' }] })).toEqual([
      'windows.allowed[0].start',
    ]);
    expect(fields({ timeZone: PARIS, allowed: [{ ...weekdays, end: '25:00' }] })).toEqual(['windows.allowed[0].end']);
    expect(fields({ timeZone: PARIS, allowed: [{ ...weekdays, end: '08:00' }] })).toEqual(['windows.allowed[0].end']);
    expect(fields({ timeZone: PARIS, allowed: [null] })).toEqual([
      'windows.allowed[0].days',
      'windows.allowed[0].start',
      'windows.allowed[0].end',
    ]);
  });

  it('refuses allowed ranges that overlap, also across midnight and the week end', () => {
    const overlap = (a: AllowedWindow, b: AllowedWindow) => validateTimeWindows({ timeZone: PARIS, allowed: [a, b] });
    expect(overlap(weekdays, { days: ['fri'], start: '19:00', end: '21:00' })).toEqual([
      expect.objectContaining({ field: 'windows.allowed[1]', message: expect.stringContaining('on fri') }),
    ]);
    // Monday 22:00–06:00 spills onto Tuesday 08:00? No: it ends at 06:00. Onto Tuesday 05:00–07:00: yes.
    expect(
      overlap({ days: ['mon'], start: '22:00', end: '06:00' }, { days: ['tue'], start: '07:00', end: '09:00' }),
    ).toEqual([]);
    expect(
      overlap({ days: ['mon'], start: '22:00', end: '06:00' }, { days: ['tue'], start: '05:00', end: '07:00' }),
    ).toEqual([expect.objectContaining({ field: 'windows.allowed[1]', message: expect.stringContaining('on tue') })]);
    // Sunday night into Monday morning.
    expect(
      overlap({ days: ['sun'], start: '23:00', end: '02:00' }, { days: ['mon'], start: '01:00', end: '03:00' }),
    ).toHaveLength(1);
    // Touching is not overlapping.
    expect(
      overlap({ days: ['mon'], start: '08:00', end: '12:00' }, { days: ['mon'], start: '12:00', end: '14:00' }),
    ).toEqual([]);
  });

  it('refuses blackouts that end before they start, do not exist, overlap, or name an unknown zone', () => {
    const one = (b: unknown) => fields({ timeZone: PARIS, blackouts: [b] });
    expect(one({ start: '2026-05-14T12:00', end: '2026-05-14T11:00' })).toEqual(['windows.blackouts[0].end']);
    expect(one({ start: '2026-05-14T12:00', end: '2026-05-14T12:00' })).toEqual(['windows.blackouts[0].end']);
    expect(one({ start: '2026-03-29T02:30', end: '2026-03-29T05:00' })).toEqual(['windows.blackouts[0].start']);
    expect(one({ start: '2026-05-14', end: '2026-05-15T00:00' })).toEqual(['windows.blackouts[0].start']);
    expect(one({ start: '2026-05-14T00:00', end: '2026-05-15T00:00', timeZone: 'Mars/Olympus' })).toEqual([
      'windows.blackouts[0].timeZone',
    ]);
    expect(one({ start: '2026-05-14T00:00', end: '2026-05-15T00:00', reason: 'x'.repeat(201) })).toEqual([
      'windows.blackouts[0].reason',
    ]);
    expect(
      fields({
        timeZone: PARIS,
        blackouts: [
          { start: '2026-05-14T00:00', end: '2026-05-15T00:00' },
          // 22:30 in London is 23:30 in Paris: inside the first.
          { start: '2026-05-14T22:30', end: '2026-05-16T00:00', timeZone: 'Europe/London' },
        ],
      }),
    ).toEqual(['windows.blackouts[1]']);
  });
});
