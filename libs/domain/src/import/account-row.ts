import { splitCsvLine } from './csv-line';

/** The import file's header, exactly (a UTF-8 BOM and surrounding spaces are tolerated). */
export const ACCOUNT_CSV_COLUMNS = ['login', 'cohorts', 'leaked', 'password_changed_at'] as const;

export interface AccountRow {
  /** Lower-cased: the mailstore treats logins case-insensitively and the database keeps one spelling. */
  login: string;
  /** Lower-cased, de-duplicated, sorted. */
  cohorts: string[];
  leaked: boolean;
  /** ISO 8601 in UTC, or null when the password was never changed. */
  passwordChangedAt: string | null;
}

export type AccountCsvField = (typeof ACCOUNT_CSV_COLUMNS)[number];

export interface RowError {
  line: number;
  field?: AccountCsvField;
  reason: string;
}

export type RowResult = { ok: true; row: AccountRow } | { ok: false; error: RowError };

/**
 * The longest line the import reads (header included), in UTF-16 code units. A valid line is a login (at most
 * 254), its cohorts (64 each), a boolean and a timestamp: this leaves room for dozens of cohorts. The reader
 * refuses a longer line as soon as it passes this, so one endless line can neither fill memory nor cost time.
 */
export const MAX_ACCOUNT_LINE_CHARS = 4096;
/** Passwords were not changed before computers kept time: an earlier year is a typo or a corrupt export. */
export const MIN_PASSWORD_CHANGE_YEAR = 1970;
/**
 * How far past the import's own clock a password change may be dated (clock skew between the export and us). A
 * later one is a typo (2062 for 2026) that would make a leaked account look reset: refused.
 */
export const MAX_PASSWORD_CHANGE_SKEW_MS = 60 * 60 * 1000;
/** Bad values are quoted in messages up to this many characters (escaped: no control character reaches a log). */
const QUOTED_CHARS = 60;

const MAX_LOGIN_LENGTH = 254;
// Local part and domain without spaces, quotes, commas, backslashes or control characters; a dotted domain.
const LOGIN =
  // eslint-disable-next-line no-control-regex -- control characters are exactly what a login must not contain
  /^[^\s@,"\\<>()[\];:\x00-\x1f\x7f]+@[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+$/;
const COHORT = /^[a-z0-9][a-z0-9_-]{0,63}$/;
// The offset: Z, ±hh:mm, ±hhmm or ±hh (ISO 8601's hours-only form, which PostgreSQL writes for whole hours).
const TIMESTAMP =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}(?::?\d{2})?))?$/i;
// A high surrogate not followed by a low one, or a low one not preceded by a high one.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const TRUE_VALUES = new Set(['true', '1']);
const FALSE_VALUES = new Set(['false', '0']);

/** Checks the header line; returns a message naming what is wrong, or null when it is right. */
export function checkHeader(line: string): string | null {
  const fields = splitCsvLine(line.replace(/^\uFEFF/, ''));
  const expected = ACCOUNT_CSV_COLUMNS.join(',');
  if (!fields || fields.every((f) => f.trim() === '')) return `missing header: the first line must be "${expected}"`;
  const got = fields.map((f) => f.trim().toLowerCase());
  // The first line of a wrong file may be anything (a data line, a binary blob): quote only a short prefix.
  if (got.join(',') !== expected) return `wrong header ${quote(line)}: expected "${expected}"`;
  return null;
}

/**
 * What is wrong with a field's characters, or null: U+FFFD (what an invalid UTF-8 byte sequence decodes to; a
 * genuine U+FFFD means the export was already damaged), NUL, or a lone surrogate (from a string source). Stored,
 * each would become a login nobody can type, or a query error.
 */
export function characterProblem(raw: string): string | null {
  if (raw.includes('\uFFFD')) return 'is not valid UTF-8 (it holds a byte sequence that decodes to U+FFFD)';
  if (raw.includes('\u0000')) return 'contains a NUL byte';
  if (LONE_SURROGATE.test(raw)) return 'contains a lone surrogate (not valid Unicode)';
  return null;
}

/** The column a partial line has reached (for naming the field of a line cut short), if it can tell. */
export function accountCsvFieldAt(prefix: string): AccountCsvField | undefined {
  const fields = splitCsvLine(prefix);
  return fields ? ACCOUNT_CSV_COLUMNS[fields.length - 1] : undefined;
}

export function parseLogin(raw: string): string | null {
  const login = raw.trim().toLowerCase();
  if (login.length === 0 || login.length > MAX_LOGIN_LENGTH || !LOGIN.test(login)) return null;
  return login;
}

export function parseCohorts(raw: string): string[] | string {
  const parts = raw
    .split('|')
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== '');
  for (const c of parts) {
    if (!COHORT.test(c)) return `bad cohort ${quote(c)}: use 1-64 of [a-z0-9_-], starting with a letter or digit`;
  }
  return [...new Set(parts)].sort();
}

export function parseBoolean(raw: string): boolean | null {
  const v = raw.trim().toLowerCase();
  if (TRUE_VALUES.has(v)) return true;
  if (FALSE_VALUES.has(v)) return false;
  return null;
}

/**
 * ISO 8601 date or date-time with an explicit offset ("Z", ±hh:mm, ±hhmm or ±hh); a date alone means midnight UTC. Years
 * are taken literally (never the 1900s for 0-99, as Date.UTC would) and must be from MIN_PASSWORD_CHANGE_YEAR on.
 */
export function parseTimestamp(raw: string): string | null | undefined {
  const v = raw.trim();
  if (v === '') return null;
  const m = TIMESTAMP.exec(v);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  if (h !== undefined && zone === undefined) return undefined;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h ?? 0);
  const minute = Number(mi ?? 0);
  const second = Number(s ?? 0);
  if (year < MIN_PASSWORD_CHANGE_YEAR) return undefined;
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59) return undefined;
  const daysInMonth = new Date(utcMillis(year, month, 0)).getUTCDate();
  if (day < 1 || day > daysInMonth) return undefined;
  const ms = Math.floor(Number(`0.${frac ?? '0'}`) * 1000);
  let offsetMinutes = 0;
  if (zone && zone.toUpperCase() !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    const oh = Number(digits.slice(0, 2));
    const om = Number(digits.slice(2, 4)); // 0 for an hours-only offset
    if (oh > 14 || om > 59) return undefined;
    offsetMinutes = sign * (oh * 60 + om);
  }
  const utc = utcMillis(year, month - 1, day, hour, minute, second, ms) - offsetMinutes * 60_000;
  return new Date(utc).toISOString();
}

/** Date.UTC with the year taken literally: Date.UTC(50, …) is 1950, setUTCFullYear(50, …) is year 50. */
function utcMillis(year: number, monthIndex: number, day: number, h = 0, mi = 0, s = 0, ms = 0): number {
  const date = new Date(0);
  date.setUTCFullYear(year, monthIndex, day);
  date.setUTCHours(h, mi, s, ms);
  return date.getTime();
}

/**
 * Validates one data line (1-based line number as in the file, header = line 1). `importedAt`: when the import
 * runs; a password change dated more than MAX_PASSWORD_CHANGE_SKEW_MS after it is refused.
 */
export function parseAccountLine(line: string, lineNo: number, importedAt?: Date): RowResult {
  const fields = splitCsvLine(line);
  const fail = (reason: string, field?: AccountCsvField): RowResult => ({
    ok: false,
    error: field ? { line: lineNo, field, reason } : { line: lineNo, reason },
  });
  // Characters first: a line that is not valid UTF-8 is refused as such (naming the field), whatever else is wrong.
  for (const [i, raw] of (fields ?? [line]).entries()) {
    const problem = characterProblem(raw);
    const field = fields ? ACCOUNT_CSV_COLUMNS[i] : undefined;
    if (problem) return fail(`${field ?? 'the line'} ${problem}`, field);
  }
  if (!fields) return fail('malformed CSV: unterminated quoted field');
  if (fields.length !== ACCOUNT_CSV_COLUMNS.length) {
    return fail(`expected ${ACCOUNT_CSV_COLUMNS.length} columns, found ${fields.length}`);
  }
  const [rawLogin, rawCohorts, rawLeaked, rawChanged] = fields as [string, string, string, string];
  const login = parseLogin(rawLogin);
  if (!login) return fail(`bad login ${quote(rawLogin)}: expected an e-mail address`, 'login');
  const cohorts = parseCohorts(rawCohorts);
  if (typeof cohorts === 'string') return fail(cohorts, 'cohorts');
  const leaked = parseBoolean(rawLeaked);
  if (leaked === null) return fail(`unknown boolean ${quote(rawLeaked)}: use true or false`, 'leaked');
  const passwordChangedAt = parseTimestamp(rawChanged);
  if (passwordChangedAt === undefined) {
    const year = /^\s*(\d{4})-/.exec(rawChanged)?.[1];
    if (year !== undefined && Number(year) < MIN_PASSWORD_CHANGE_YEAR) {
      return fail(
        `bad timestamp ${quote(rawChanged)}: year ${year} is before ${MIN_PASSWORD_CHANGE_YEAR}, not a password change`,
        'password_changed_at',
      );
    }
    return fail(
      `bad timestamp ${quote(rawChanged)}: use ISO 8601 with an offset, e.g. 2026-05-02T10:00:00Z, or leave empty`,
      'password_changed_at',
    );
  }
  if (
    passwordChangedAt !== null &&
    importedAt !== undefined &&
    Date.parse(passwordChangedAt) > importedAt.getTime() + MAX_PASSWORD_CHANGE_SKEW_MS
  ) {
    return fail(
      `bad timestamp ${quote(rawChanged)}: in the future (a typo would make a leaked account look reset)`,
      'password_changed_at',
    );
  }
  return { ok: true, row: { login, cohorts, leaked, passwordChangedAt } };
}

/**
 * A value for a message: its first QUOTED_CHARS characters (whole code points), in double quotes, JSON-escaped
 * so control characters, quotes and lone surrogates are shown, never emitted; "…" and the length when cut.
 */
export function quote(s: string): string {
  const points = Array.from(s.slice(0, QUOTED_CHARS * 2)).slice(0, QUOTED_CHARS);
  const shown = points.join('');
  return shown.length < s.length ? `${JSON.stringify(shown)}… (${s.length} characters)` : JSON.stringify(shown);
}
