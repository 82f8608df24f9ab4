import { RowError } from '@app/domain';
import { DomainError } from '../errors';

export interface ImportOptions {
  /** Import the good lines and report the bad ones; by default one bad line rejects the whole file. */
  partial?: boolean;
  /** Who asked (CLI user or API key name), for the audit log. */
  actor?: string;
  /** Refuse files with more data lines than this (the HTTP endpoint sets it). */
  maxLines?: number;
  /** How many bad lines are listed in the report (all are counted). */
  maxErrorsReported?: number;
  /** Refuse a line longer than this (default MAX_ACCOUNT_LINE_CHARS; tests lower it). */
  maxLineChars?: number;
}

export interface ImportReport {
  /** imported: changes committed; rejected: nothing written (bad lines and not partial). */
  status: 'imported' | 'rejected';
  partial: boolean;
  /** Data lines read (the header and blank lines are not counted). */
  lines: number;
  valid: number;
  rejected: number;
  inserted: number;
  updated: number;
  unchanged: number;
  /**
   * Accounts this import updated that the service records open (IMAP or POP3) and that their new values hold back
   * (`password_reset_required`: leaked, not reset since the incident, no live override), e.g. a late leaked list.
   * Nothing closes them by itself: disable them (support) or roll back the wave that opened them.
   */
  openHeld: number;
  /** Their logins, in order, the first OPEN_HELD_LISTED (1000). */
  openHeldLogins: string[];
  /** Bad lines in line order, at most maxErrorsReported of them. */
  errors: RowError[];
  errorsTruncated: boolean;
  durationMs: number;
}

/** The file as a whole is unusable (no or wrong header, too many lines): nothing is imported. */
export class ImportFileError extends Error {
  constructor(
    message: string,
    readonly code: 'missing_header' | 'wrong_header' | 'too_many_lines',
  ) {
    super(message);
    this.name = 'ImportFileError';
  }
}

/**
 * A line passed the line limit: the file is refused there, nothing is imported and the rest is not read (also with
 * `partial`: a line that long is not a bad row but a wrong file). Too large, like the other size limits.
 */
export class LineTooLongError extends DomainError {
  constructor(
    readonly line: number,
    readonly limitChars: number,
    field: string | undefined,
  ) {
    const where = field ? ` (in field ${field})` : '';
    super('line_too_long', `line ${line} is longer than ${limitChars} characters${where}`, 'too_large', {
      field: field ?? 'line',
      line,
      limitChars,
    });
    this.name = 'LineTooLongError';
  }
}
