import {
  accountCsvFieldAt,
  characterProblem,
  checkHeader,
  parseAccountLine,
  parseBoolean,
  parseCohorts,
  parseLogin,
  parseTimestamp,
  quote,
} from './account-row';
import { splitCsvLine } from './csv-line';

describe('splitCsvLine', () => {
  it.each([
    ['a,b,c,d', ['a', 'b', 'c', 'd']],
    ['a,,,', ['a', '', '', '']],
    ['"a,1",b', ['a,1', 'b']],
    ['"say ""hi""",x', ['say "hi"', 'x']],
    ['x,"",y', ['x', '', 'y']],
    ['x,"y"', ['x', 'y']],
    ['x,', ['x', '']],
  ])('splits %j', (line, fields) => {
    expect(splitCsvLine(line)).toEqual(fields);
  });

  it.each(['"open', 'a,"b', '"a"b,c'])('refuses malformed quoting in %j', (line) => {
    expect(splitCsvLine(line)).toBeNull();
  });
});

describe('checkHeader', () => {
  it.each([
    'login,cohorts,leaked,password_changed_at',
    '\uFEFFlogin,cohorts,leaked,password_changed_at',
    ' Login , cohorts,LEAKED,password_changed_at',
  ])('accepts %j', (line) => expect(checkHeader(line)).toBeNull());

  it('refuses an empty first line as a missing header', () => {
    expect(checkHeader('')).toMatch(/missing header/);
  });

  it.each(['login,cohorts,leaked', 'alice@example.test,health,false,', 'login,leaked,cohorts,password_changed_at'])(
    'refuses %j and says what it expected',
    (line) => expect(checkHeader(line)).toMatch(/wrong header .*expected "login,cohorts,leaked,password_changed_at"/),
  );

  it('quotes only a short, escaped prefix of a long or binary first line', () => {
    const long = `alice@example.test,${'health|'.repeat(12_000)},false,`; // 84 KB, as in the finding
    const message = checkHeader(long)!;
    expect(message.length).toBeLessThan(200);
    expect(message).toBe(
      `wrong header "${long.slice(0, 60)}"… (${long.length} characters): ` +
        'expected "login,cohorts,leaked,password_changed_at"',
    );
    const binary = checkHeader('\u0000\u001b[31m\r\ud800,x')!;
    expect(binary).toContain('"\\u0000\\u001b[31m\\r\\ud800,x"'); // escaped, never emitted
    // eslint-disable-next-line no-control-regex -- control characters are what must not appear
    expect(binary).not.toMatch(/[\u0000-\u001f]|[\ud800-\udfff]/);
  });
});

describe('quote', () => {
  it.each([
    ['plain', '"plain"'],
    ['say "hi"', '"say \\"hi\\""'],
    ['tab\there', '"tab\\there"'],
    ['é', '"é"'],
  ])('quotes %j as %s', (raw, quoted) => expect(quote(raw)).toBe(quoted));

  it('cuts after 60 code points, never inside a surrogate pair, and says how long the value was', () => {
    expect(quote('x'.repeat(61))).toBe(`"${'x'.repeat(60)}"… (61 characters)`);
    const emoji = '😀'.repeat(100); // 2 code units each
    expect(quote(emoji)).toBe(`"${'😀'.repeat(60)}"… (200 characters)`);
    expect(quote(`${'x'.repeat(59)}😀`)).toBe(`"${'x'.repeat(59)}😀"`);
  });
});

describe('characterProblem', () => {
  it.each([
    ['alice@example.test', null],
    ['élise@example.test', null],
    ['😀@example.test', null],
    ['al\uFFFDce@example.test', /not valid UTF-8/],
    ['al\u0000ce', /NUL/],
    ['\ud800x', /lone surrogate/],
    ['x\udc00', /lone surrogate/],
    ['\udc00\ud800', /lone surrogate/],
  ])('%j → %s', (raw, problem) => {
    if (problem === null) expect(characterProblem(raw)).toBeNull();
    else expect(characterProblem(raw)).toMatch(problem);
  });
});

describe('accountCsvFieldAt', () => {
  it.each([
    ['', 'login'],
    ['alice@example', 'login'],
    ['alice@example.test,health|gen', 'cohorts'],
    ['alice@example.test,,tr', 'leaked'],
    ['alice@example.test,,true,2026', 'password_changed_at'],
    ['a,b,c,d,e', undefined],
    ['a,"open', undefined],
  ])('%j is in %s', (prefix, field) => expect(accountCsvFieldAt(prefix)).toBe(field));
});

describe('field parsers', () => {
  it.each([
    ['alice@example.test', 'alice@example.test'],
    ['  Alice@Example.TEST ', 'alice@example.test'],
    ['dr.o+claims@cabinet-medical.fr', 'dr.o+claims@cabinet-medical.fr'],
  ])('parses login %j', (raw, login) => expect(parseLogin(raw)).toBe(login));

  it.each([
    '',
    'alice',
    'alice@',
    '@example.test',
    'a b@example.test',
    'alice@example',
    'alice@-x.test',
    'a\\b@x.test',
    `${'a'.repeat(250)}@x.test`,
  ])('rejects login %j', (raw) => expect(parseLogin(raw)).toBeNull());

  it('parses cohorts: trimmed, lower-cased, de-duplicated, sorted; empty is none', () => {
    expect(parseCohorts('health| General |health')).toEqual(['general', 'health']);
    expect(parseCohorts('')).toEqual([]);
    expect(parseCohorts('||')).toEqual([]);
  });

  it('rejects a cohort with odd characters', () => {
    expect(parseCohorts('health|gén')).toMatch(/bad cohort "gén"/);
  });

  it.each([
    ['true', true],
    ['TRUE', true],
    ['1', true],
    ['false', false],
    [' False ', false],
    ['0', false],
    ['yes', null],
    ['', null],
  ])('parses boolean %j', (raw, value) => expect(parseBoolean(raw)).toBe(value));

  it.each([
    ['', null],
    ['2026-05-02T10:00:00Z', '2026-05-02T10:00:00.000Z'],
    ['2026-05-02T12:00:00+02:00', '2026-05-02T10:00:00.000Z'],
    ['2026-05-02T12:00:00+0200', '2026-05-02T10:00:00.000Z'],
    // PostgreSQL's own text for a timestamptz (an export of the provider's database): hours-only offset, a space.
    ['2026-05-02 12:00:00.5+02', '2026-05-02T10:00:00.500Z'],
    ['2026-05-02T06:00:00-04', '2026-05-02T10:00:00.000Z'],
    ['2026-05-02T05:30-04:30', '2026-05-02T10:00:00.000Z'],
    ['2026-05-02T10:00:00.123456Z', '2026-05-02T10:00:00.123Z'],
    ['2026-05-02', '2026-05-02T00:00:00.000Z'],
    ['2024-02-29T00:00:00Z', '2024-02-29T00:00:00.000Z'],
  ])('parses timestamp %j', (raw, iso) => expect(parseTimestamp(raw)).toBe(iso));

  it.each([
    'yesterday',
    '2026-05-02T10:00:00',
    '2026-13-01T00:00:00Z',
    '2026-02-30T00:00:00Z',
    '2025-02-29',
    '2026-05-02T24:00:00Z',
    '2026-05-02T10:60:00Z',
    '2026-05-02T10:00:00+15:00',
    '2026-05-02T10:00:00+2',
    '2026-05-02T10:00:00+020',
    '1715248800',
    '0050-05-03T10:00:00Z',
    '0050-05-03',
    '0000-01-01T00:00:00Z',
    '0999-12-31T23:59:59+01:00',
    '1969-12-31T23:59:59Z',
  ])('rejects timestamp %j', (raw) => expect(parseTimestamp(raw)).toBeUndefined());

  it('takes years literally from 1970 on (Date.UTC would read 0-99 as 1900-1999)', () => {
    expect(parseTimestamp('1970-01-01T00:00:00Z')).toBe('1970-01-01T00:00:00.000Z');
    expect(parseTimestamp('1970-01-01T01:00:00+01:00')).toBe('1970-01-01T00:00:00.000Z');
    expect(parseTimestamp('9999-12-31T23:59:59Z')).toBe('9999-12-31T23:59:59.000Z');
    expect(parseTimestamp('2000-02-29')).toBe('2000-02-29T00:00:00.000Z');
    expect(parseTimestamp('2100-02-29')).toBeUndefined();
  });
});

describe('parseAccountLine', () => {
  it('parses a good line', () => {
    expect(parseAccountLine('Dr.Who@Example.test,health|general,true,2026-05-03T09:00:00Z', 2)).toEqual({
      ok: true,
      row: {
        login: 'dr.who@example.test',
        cohorts: ['general', 'health'],
        leaked: true,
        passwordChangedAt: '2026-05-03T09:00:00.000Z',
      },
    });
  });

  it.each([
    ['not-a-login,health,false,', 'login', /bad login "not-a-login"/],
    ['a@example.test,he alth,false,', 'cohorts', /bad cohort/],
    ['a@example.test,health,maybe,', 'leaked', /unknown boolean "maybe"/],
    ['a@example.test,health,false,last tuesday', 'password_changed_at', /bad timestamp "last tuesday"/],
  ])('reports %j with its field and line number', (line, field, reason) => {
    const result = parseAccountLine(line, 17);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.line).toBe(17);
    expect(result.error.field).toBe(field);
    expect(result.error.reason).toMatch(reason);
  });

  it.each([
    ['a@example.test,health,false', /expected 4 columns, found 3/],
    ['a@example.test,health,false,,extra', /expected 4 columns, found 5/],
    ['"a@example.test,health,false,', /unterminated quoted field/],
  ])('reports a malformed line %j', (line, reason) => {
    const result = parseAccountLine(line, 3);
    expect(result).toEqual({ ok: false, error: { line: 3, reason: expect.stringMatching(reason) } });
  });

  it.each([
    ['al\uFFFDce@example.test,health,false,', 'login', /^login is not valid UTF-8/],
    ['alice@example.test,heal\uFFFD,false,', 'cohorts', /^cohorts is not valid UTF-8/],
    ['alice@example.test,health,false,2026-05-01T00:00:00Z\uFFFD', 'password_changed_at', /not valid UTF-8/],
    ['ali\u0000ce@example.test,health,false,', 'login', /^login contains a NUL byte/],
    ['alice@example.test,health,fal\u0000se,', 'leaked', /^leaked contains a NUL byte/],
    ['al\ud800ice@example.test,health,false,', 'login', /^login contains a lone surrogate/],
    ['alice@example.test,\udfffhealth,false,', 'cohorts', /^cohorts contains a lone surrogate/],
  ])('refuses %j naming the field whose characters are wrong', (line, field, reason) => {
    const result = parseAccountLine(line, 9);
    expect(result).toEqual({ ok: false, error: { line: 9, field, reason: expect.stringMatching(reason) } });
  });

  it('refuses a bad character on a malformed line too, naming the line', () => {
    expect(parseAccountLine('"al\uFFFDce@example.test,health,false,', 4)).toEqual({
      ok: false,
      error: { line: 4, reason: expect.stringMatching(/^the line is not valid UTF-8/) },
    });
    expect(parseAccountLine('a@example.test,,false,,\u0000', 4)).toEqual({
      ok: false,
      error: { line: 4, reason: expect.stringMatching(/^the line contains a NUL byte/) },
    });
  });

  it('refuses a password change before 1970, saying so (year 0050 is not 1950)', () => {
    expect(parseAccountLine('a@example.test,health,true,0050-05-03T10:00:00Z', 6)).toEqual({
      ok: false,
      error: {
        line: 6,
        field: 'password_changed_at',
        reason: 'bad timestamp "0050-05-03T10:00:00Z": year 0050 is before 1970, not a password change',
      },
    });
  });

  it('refuses a password change dated after the import (beyond an hour of clock skew), naming the field', () => {
    const importedAt = new Date('2026-05-10T08:00:00Z');
    expect(parseAccountLine('a@example.test,health,true,2062-05-03T10:00:00Z', 7, importedAt)).toEqual({
      ok: false,
      error: {
        line: 7,
        field: 'password_changed_at',
        reason: 'bad timestamp "2062-05-03T10:00:00Z": in the future (a typo would make a leaked account look reset)',
      },
    });
    expect(parseAccountLine('a@example.test,health,true,2026-05-10T09:00:01Z', 7, importedAt).ok).toBe(false);
    expect(parseAccountLine('a@example.test,health,true,2026-05-10T09:00:00Z', 7, importedAt).ok).toBe(true);
    expect(parseAccountLine('a@example.test,health,true,2026-05-10T10:00:00+02:00', 7, importedAt).ok).toBe(true);
    expect(parseAccountLine('a@example.test,health,true,', 7, importedAt).ok).toBe(true);
  });

  it('truncates long bad values in messages', () => {
    const result = parseAccountLine(`${'x'.repeat(500)},,false,`, 2);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.reason.length).toBeLessThan(150);
  });
});
