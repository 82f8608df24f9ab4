import { accountCsvFieldAt, AccountRow, checkHeader, parseAccountLine, RowError } from '@app/domain';
import type { DuplicateLine, MergeResult } from './account-import.repository';
import { ImportFileError, ImportReport } from './account-import.types';

/*
 * The decisions of an account import, pure (the row rules themselves are libs/domain's parseAccountLine): which line
 * is the header, a row to stage or a bad line; what the bad lines are; whether the file is refused; what the report
 * says. AccountImportService streams and writes; account-import-lines.spec.ts checks these without a database.
 */

/** The bad lines of an import: every one counted, the first `max` kept for the report. */
export class RejectedLines {
  count = 0;
  private readonly kept: RowError[] = [];

  constructor(private readonly max: number) {}

  readonly add = (error: RowError): void => {
    this.count++;
    if (this.kept.length < this.max) this.kept.push(error);
  };

  /** The kept ones in line order, and whether some were left out. */
  report(): { errors: RowError[]; errorsTruncated: boolean } {
    return { errors: [...this.kept].sort((a, b) => a.line - b.line), errorsTruncated: this.count > this.kept.length };
  }
}

/**
 * Reads an import file's lines in order: the first is the header (a wrong one refuses the file), blank lines are
 * skipped, every other line is a data line, parsed into the COPY text of its row or rejected.
 */
export class ImportLineReader {
  /** Data lines read (the header and blank lines are not counted). */
  lines = 0;
  /** Data lines whose row is staged. */
  valid = 0;
  private lineNo = 0;

  constructor(
    /** The import's own clock: a password change dated well after it is a typo (parseAccountLine). */
    private readonly importedAt: Date,
    private readonly maxLines: number | undefined,
    private readonly reject: (error: RowError) => void,
  ) {}

  /** The line's COPY text, or null when nothing is staged for it. Throws ImportFileError for a file refused whole. */
  read(line: string): string | null {
    this.lineNo++;
    if (this.lineNo === 1) {
      const problem = checkHeader(line);
      if (problem)
        throw new ImportFileError(problem, problem.startsWith('missing') ? 'missing_header' : 'wrong_header');
      return null;
    }
    if (line.trim() === '') return null;
    this.lines++;
    if (this.maxLines !== undefined && this.lines > this.maxLines) {
      throw new ImportFileError(`the file has more than ${this.maxLines} data lines`, 'too_many_lines');
    }
    const result = parseAccountLine(line, this.lineNo, this.importedAt);
    if (!result.ok) {
      this.reject(result.error);
      return null;
    }
    this.valid++;
    return copyLine(this.lineNo, result.row);
  }

  /** After the last line: an empty file has no header. */
  finish(): void {
    if (this.lineNo === 0) throw new ImportFileError('missing header: the file is empty', 'missing_header');
  }
}

/** The field a too-long line is in, from what was read of it (line 1 is the header). */
export function importFieldAt(prefix: string, line: number): string | undefined {
  return line === 1 ? 'header' : accountCsvFieldAt(prefix);
}

/** COPY text format. Validated values hold no tab, newline or backslash, so no escaping is needed. */
export function copyLine(line: number, row: AccountRow): string {
  return `${line}\t${row.login}\t{${row.cohorts.join(',')}}\t${row.leaked ? 't' : 'f'}\t${row.passwordChangedAt ?? '\\N'}\n`;
}

export function duplicateError(dup: DuplicateLine): RowError {
  return { line: dup.line, field: 'login', reason: `duplicate login "${dup.login}" (first at line ${dup.first_line})` };
}

/** What was read: data lines, and the good rows among them (duplicates left out). */
export interface ImportCounts {
  partial: boolean;
  lines: number;
  valid: number;
}

/**
 * The report, before its duration: `merged` null when nothing is merged (the file is refused: any bad line without
 * `partial`), else how many rows the merge inserted and updated; the other good rows were unchanged.
 */
export function importReport(counts: ImportCounts, rejected: RejectedLines, merged: MergeResult | null): ImportReport {
  const base = { ...counts, ...rejected.report(), rejected: rejected.count, durationMs: 0 };
  if (!merged)
    return { ...base, status: 'rejected', inserted: 0, updated: 0, unchanged: 0, openHeld: 0, openHeldLogins: [] };
  const unchanged = counts.valid - merged.inserted - merged.updated;
  return { ...base, status: 'imported', ...merged, unchanged };
}

/** One bad line refuses the whole file unless the import is partial. */
export function refusesFile(counts: ImportCounts, rejected: RejectedLines): boolean {
  return rejected.count > 0 && !counts.partial;
}
