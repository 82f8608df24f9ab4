export interface AuditQuery {
  waveId?: string;
  login?: string;
  /** Inclusive lower bound on `at`. */
  from?: Date;
  /** Exclusive upper bound on `at`. */
  to?: Date;
  /** Exact action (`wave.start`) or a family with a trailing `*` (`support.*`). */
  action?: string;
  /**
   * `commands`: every entry but the per-member ledger rows (`member.*`), so commands, gate halts and support
   * actions are not buried under a wave's millions of member rows; `waves`: of those, the entries about a wave
   * (its commands, gate pauses and halts, approvals: the status page's audit pane); `all` (default): everything.
   */
  kind?: 'all' | 'commands' | 'waves';
  /** Keyset cursor: only entries older (smaller id) than this one; from the previous page's nextCursor. */
  cursor?: string;
  /** Page size, 1–500 (default 100). */
  limit?: number;
}

export interface AuditEntryView {
  id: string;
  at: Date;
  actor: string;
  action: string;
  waveId: string | null;
  accountId: string | null;
  login: string | null;
  operationId: string | null;
  reason: string | null;
  ticket: string | null;
  before: unknown;
  after: unknown;
  detail: unknown;
}

export interface AuditPage {
  items: AuditEntryView[];
  /** Pass as `cursor` for the next (older) page; null on the last page. */
  nextCursor: string | null;
}

export const AUDIT_KINDS = ['all', 'commands', 'waves'] as const;

export const AUDIT_PAGE = { defaultLimit: 100, maxLimit: 500 } as const;
