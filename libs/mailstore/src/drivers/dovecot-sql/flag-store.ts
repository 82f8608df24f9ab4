import type { BatchItem } from '../../mailstore.types';
import type { RetryableCode } from '../../outcome';
import type { FlagRow, Switches } from './desired-state';
import { fingerprintVersion, parseProtocolList } from './desired-state';
import { quoteIdentifier, type ResolvedDovecotSqlOptions } from './dovecot-sql.options';

/** One changed row: its login as the table spells it, the switches wanted, and the version they make. */
export interface RowWrite {
  login: string;
  next: Switches;
  version: number;
  /** List layout: the column's new text. */
  list?: string;
}

/**
 * How far a write got, for `outcomeUnknown`: a failure before COMMIT was sent leaves nothing applied (the server
 * rolls an open transaction back when its connection goes); only a COMMIT without an answer is in doubt.
 */
export interface Progress {
  phase: 'connect' | 'statements' | 'commit' | 'done';
}

/** Called right before the first statement leaves: throws NotSent when the caller's window closed or it aborted. */
export type SendGate = () => void;

/**
 * The single statement (autocommitted) wrote other rows than the rule decided: a bug of its SQL twin. What it wrote
 * stays; the answer is in doubt, so the engine retries with the same key (a replay writes desired states again).
 */
export class TwinMismatch extends Error {
  constructor(detail: string) {
    super(detail);
    this.name = 'TwinMismatch';
  }
}

export class NotSent extends Error {
  constructor(readonly code: 'send_window_missed' | 'aborted') {
    super(code);
    this.name = 'NotSent';
  }
}

/** What an I/O failure of the database means, per dialect (see PgFlagStore.classify, MysqlFlagStore.classify). */
export type SqlFailure =
  /** `answered`: the server itself reported the error, so a statement it answered was not applied. */
  | { kind: 'retryable'; code: RetryableCode; answered: boolean; detail: string }
  | { kind: 'unavailable'; detail: string }
  /** Wrong credentials (401), missing privilege or a table/column that is not there (403): stop and alert. */
  | { kind: 'permanent'; status: 401 | 403; code: string; detail: string };

/**
 * The passdb table, as the driver reads and writes it. A store holds statements and no rule: which rows change,
 * and to what, is decided by `decide` (desired-state.ts) between the locking read and the write of one transaction.
 */
export interface FlagStore {
  /** Rows of these logins, without locks (GET access, the existence check before a kick). */
  read(logins: readonly string[], gate: SendGate, signal?: AbortSignal): Promise<FlagRow[]>;
  /**
   * One transaction: the rows of the items' logins read `FOR UPDATE`, `decide` called on them, its writes applied by
   * one statement, COMMIT (PostgreSQL with a column per protocol and a version column: all of it one statement, whose
   * writes must be those `decide` asks for). `items` holds each account once. Returns the time of the write.
   */
  write(
    items: readonly BatchItem[],
    decide: (rows: FlagRow[]) => RowWrite[],
    gate: SendGate,
    progress: Progress,
    signal?: AbortSignal,
  ): Promise<string>;
  classify(err: unknown): SqlFailure;
  close(): Promise<void>;
  destroy(): Promise<void>;
}

/** One dialect's statements of a batch's transaction (writeInTransaction runs them in order). */
export interface TransactionSteps {
  begin(): Promise<unknown>;
  /** The items' rows, read `FOR UPDATE`. */
  lock(): Promise<Record<string, unknown>[]>;
  /** One statement writing every changed row. */
  update(writes: RowWrite[]): Promise<unknown>;
  commit(): Promise<unknown>;
}

/**
 * A batch's transaction as every dialect runs it: BEGIN, the locking read, `decide` on the rows, one UPDATE of the
 * changed rows, COMMIT. `progress` says how far it got, which decides what a failure means: only a COMMIT without an
 * answer may have been applied (the server rolls back anything before it). Returns the time of the write.
 */
export async function writeInTransaction(
  steps: TransactionSteps,
  decide: (rows: FlagRow[]) => RowWrite[],
  progress: Progress,
  o: ResolvedDovecotSqlOptions,
): Promise<string> {
  progress.phase = 'statements';
  await steps.begin();
  const writes = decide((await steps.lock()).map((r) => toFlagRow(r, o)));
  if (writes.length > 0) await steps.update(writes);
  progress.phase = 'commit';
  await steps.commit();
  progress.phase = 'done';
  return new Date().toISOString();
}

/** The SELECT list every dialect reads (flags as the layout keeps them, the version when there is a column). */
export function selectList(o: ResolvedDovecotSqlOptions): string {
  const q = (name: string) => quoteIdentifier(o.dialect, name);
  const cols = [`${q(o.loginColumn)} AS login`];
  if (o.flags.kind === 'columns') cols.push(`${q(o.flags.imap)} AS imap`, `${q(o.flags.pop3)} AS pop3`);
  else cols.push(`${q(o.flags.column)} AS list`);
  if (o.versionColumn !== undefined) cols.push(`${q(o.versionColumn)} AS version`);
  return cols.join(', ');
}

/** A row as either driver returns it (booleans may come as 0/1, versions as strings from a bigint). */
export function toFlagRow(r: Record<string, unknown>, o: ResolvedDovecotSqlOptions): FlagRow {
  const list = textOrNull(r.list);
  const switches: Switches =
    o.flags.kind === 'columns' ? { imap: truthy(r.imap), pop3: truthy(r.pop3) } : parseProtocolList(list);
  const row: FlagRow = {
    login: textOrNull(r.login) ?? '',
    ...switches,
    // A NULL version column counts as 0: the first change makes it 1.
    version: o.versionColumn === undefined ? fingerprintVersion(switches) : Number(r.version ?? 0),
  };
  if (o.flags.kind === 'list') row.list = list;
  return row;
}

/** A text column's value (a Buffer for a binary collation). */
function textOrNull(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  if (typeof v === 'string') return v;
  return typeof v === 'number' || typeof v === 'bigint' ? String(v) : JSON.stringify(v);
}

/** NULL reads as off (the example passdb query uses COALESCE(…, false) the same way). */
function truthy(v: unknown): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number' || typeof v === 'bigint') return Number(v) !== 0;
  if (typeof v === 'string') return ['1', 't', 'true', 'y', 'yes', 'on'].includes(v.trim().toLowerCase());
  if (Buffer.isBuffer(v)) return v.length > 0 && v[0] !== 0 && v[0] !== 0x30; // BIT(1)
  return false;
}

/** The table's flag columns set from a write, in the order the UPDATE lists them. */
export function writtenColumns(o: ResolvedDovecotSqlOptions): string[] {
  const cols = o.flags.kind === 'columns' ? [o.flags.imap, o.flags.pop3] : [o.flags.column];
  if (o.versionColumn !== undefined) cols.push(o.versionColumn);
  return cols;
}

/** The values of one write, in writtenColumns' order. */
export function writtenValues(w: RowWrite, o: ResolvedDovecotSqlOptions): unknown[] {
  const values: unknown[] = o.flags.kind === 'columns' ? [w.next.imap, w.next.pop3] : [w.list ?? ''];
  if (o.versionColumn !== undefined) values.push(w.version);
  return values;
}
