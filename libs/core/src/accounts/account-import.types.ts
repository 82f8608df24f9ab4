import { RowError } from '@app/domain';

export interface ImportOptions {
  /** Import the good lines and report the bad ones; by default one bad line rejects the whole file. */
  partial?: boolean;
  /** Who asked (CLI user or API key name), for the audit log. */
  actor?: string;
  /** Refuse files with more data lines than this (the HTTP endpoint sets it). */
  maxLines?: number;
  /** How many bad lines are listed in the report (all are counted). */
  maxErrorsReported?: number;
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
