import { checkHeader, parseAccountLine, parseBoolean, parseCohorts, parseLogin, parseTimestamp } from './account-row';
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
    '1715248800',
  ])('rejects timestamp %j', (raw) => expect(parseTimestamp(raw)).toBeUndefined());
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

  it('truncates long bad values in messages', () => {
    const result = parseAccountLine(`${'x'.repeat(500)},,false,`, 2);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.reason.length).toBeLessThan(150);
  });
});
