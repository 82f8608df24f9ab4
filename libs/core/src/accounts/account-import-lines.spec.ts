import { RowError } from '@app/domain';
import {
  copyLine,
  duplicateError,
  importFieldAt,
  ImportLineReader,
  importReport,
  RejectedLines,
  refusesFile,
} from './account-import-lines';
import { ImportFileError } from './account-import.types';

const HEADER = 'login,cohorts,leaked,password_changed_at';
const AT = new Date('2026-05-09T06:00:00Z');

/** Reads every line; gives what was staged, what was rejected and the reader's counts. */
function readAll(lines: string[], maxLines?: number) {
  const rejected: RowError[] = [];
  const reader = new ImportLineReader(AT, maxLines, (e) => rejected.push(e));
  const staged = lines.map((l) => reader.read(l)).filter((t) => t !== null);
  reader.finish();
  return { staged, rejected, lines: reader.lines, valid: reader.valid };
}

const fileError = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    if (err instanceof ImportFileError) return err.code;
    throw err;
  }
  return null;
};

describe('ImportLineReader', () => {
  it('stages each good data line as its COPY text, skips the header and blank lines, counts data lines', () => {
    const r = readAll([
      HEADER,
      'Alice@Example.test,b|a,TRUE,',
      '  ',
      'bob@example.test,,false,2026-05-03T10:00:00+02:00',
    ]);
    expect(r.staged).toEqual([
      '2\talice@example.test\t{a,b}\tt\t\\N\n',
      '4\tbob@example.test\t{}\tf\t2026-05-03T08:00:00.000Z\n',
    ]);
    expect(r).toMatchObject({ lines: 2, valid: 2, rejected: [] });
  });

  it('rejects a bad line with its number and goes on', () => {
    const r = readAll([HEADER, 'not-a-login,,false,', 'carol@example.test,,maybe,', 'dan@example.test,,false,']);
    expect(r.rejected.map((e) => [e.line, e.field])).toEqual([
      [2, 'login'],
      [3, 'leaked'],
    ]);
    expect(r).toMatchObject({ lines: 3, valid: 1 });
    expect(r.staged).toHaveLength(1);
  });

  it('refuses the file for a missing or wrong header, an empty file, or more data lines than allowed', () => {
    expect(fileError(() => readAll(['']))).toBe('missing_header');
    expect(fileError(() => readAll([]))).toBe('missing_header');
    expect(fileError(() => readAll(['alice@example.test,,false,']))).toBe('wrong_header');
    expect(fileError(() => readAll([HEADER, 'a@x.test,,false,', 'b@x.test,,false,'], 1))).toBe('too_many_lines');
    // Blank lines are not data lines: they do not count against the limit.
    expect(readAll([HEADER, '', 'a@x.test,,false,', ''], 1)).toMatchObject({ lines: 1, valid: 1 });
    expect(fileError(() => readAll([HEADER]))).toBeNull();
  });
});

describe('RejectedLines', () => {
  it('counts every bad line, keeps the first ones up to its cap and reports them in line order', () => {
    const r = new RejectedLines(2);
    for (const line of [9, 3, 5]) r.add({ line, reason: 'bad' });
    expect(r.count).toBe(3);
    expect(r.report()).toEqual({
      errors: [
        { line: 3, reason: 'bad' },
        { line: 9, reason: 'bad' },
      ],
      errorsTruncated: true,
    });
    expect(new RejectedLines(5).report()).toEqual({ errors: [], errorsTruncated: false });
  });
});

describe('importReport and refusesFile', () => {
  const counts = { partial: false, lines: 10, valid: 8 };
  const bad = () => {
    const r = new RejectedLines(10);
    r.add(duplicateError({ line: 7, login: 'a@x.test', first_line: 2 }));
    return r;
  };

  it('refuses the whole file on any bad line unless partial', () => {
    expect(refusesFile(counts, bad())).toBe(true);
    expect(refusesFile({ ...counts, partial: true }, bad())).toBe(false);
    expect(refusesFile(counts, new RejectedLines(10))).toBe(false);
  });

  it('a refused file reports its bad lines and that nothing was written', () => {
    expect(importReport(counts, bad(), null)).toEqual({
      status: 'rejected',
      partial: false,
      lines: 10,
      valid: 8,
      rejected: 1,
      inserted: 0,
      updated: 0,
      unchanged: 0,
      openHeld: 0,
      openHeldLogins: [],
      errors: [{ line: 7, field: 'login', reason: 'duplicate login "a@x.test" (first at line 2)' }],
      errorsTruncated: false,
      durationMs: 0,
    });
  });

  it('an imported file reports the good rows neither inserted nor updated as unchanged', () => {
    const merged = { inserted: 3, updated: 4, openHeld: 1, openHeldLogins: ['b@x.test'] };
    expect(importReport({ ...counts, partial: true }, bad(), merged)).toMatchObject({
      status: 'imported',
      valid: 8,
      rejected: 1,
      inserted: 3,
      updated: 4,
      unchanged: 1,
      openHeld: 1,
      openHeldLogins: ['b@x.test'],
    });
  });
});

describe('importFieldAt and copyLine', () => {
  it('names the header on line 1 and the CSV field elsewhere', () => {
    expect(importFieldAt('anything', 1)).toBe('header');
    expect(importFieldAt('alice@example.test,hea', 2)).toBe('cohorts');
  });

  it('writes COPY text: NULL for no password change, cohorts as an array', () => {
    expect(copyLine(5, { login: 'a@x.test', cohorts: ['h', 'g'], leaked: true, passwordChangedAt: null })).toBe(
      '5\ta@x.test\t{h,g}\tt\t\\N\n',
    );
  });
});
