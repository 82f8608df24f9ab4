import { randomUUID } from 'node:crypto';
import { validateIdempotencyKey } from '../../client-options';
import type { Mailstore } from '../../mailstore';
import type {
  AccessRead,
  BatchItem,
  BatchItemResult,
  BatchOptions,
  BatchResult,
  CallOptions,
  Capabilities,
  RevokeSessionsResult,
  WriteOptions,
} from '../../mailstore.types';
import { retryable, type FailureOutcome, type Outcome } from '../../outcome';
import {
  decideItem,
  firstOccurrences,
  formatProtocolList,
  fingerprintVersion,
  itemResult,
  type FlagRow,
  type ItemDecision,
} from './desired-state';
import { DoveadmClient } from '../doveadm';
import { NativeMailstore, summarise } from '../native-mailstore';
import { revokeTurnedOff } from '../session-kicks';
import {
  resolveDovecotSqlOptions,
  type DovecotSqlOptions,
  type ResolvedDovecotSqlOptions,
} from './dovecot-sql.options';
import { NotSent, TwinMismatch, type FlagStore, type Progress, type RowWrite, type SendGate } from './flag-store';
import type * as MysqlFlagStoreModule from './mysql-flag-store';
import { PgFlagStore } from './pg-flag-store';

/** What an overloaded database (too many connections) asks the engine to wait. */
const UNAVAILABLE_RETRY_MS = 1_000;

/**
 * The `dovecot-sql` driver: the per-protocol switches live in the table Dovecot's SQL passdb reads, whose query
 * answers `nologin=y` with a `reason` per service (`%s`); see deploy/dovecot/. With the auth cache off the next
 * login sees a change; live sessions are ended through the doveadm HTTP API (`kick`).
 *
 * A batch is one transaction: the rows locked `FOR UPDATE`, each item decided from its row (desired-state.ts:
 * desired state, `ifVersion`, `not_found`), the changed rows written by one statement, COMMIT; on PostgreSQL with a
 * column per protocol and a version column all of it is one statement (pg-flag-store.ts). Idempotency: every
 * write names the state wanted, never a toggle, so replaying a batch (the engine's retry with the same key) changes
 * nothing and answers `unchanged`; the one thing a replay could lose, a kick that failed after the commit, is done
 * by the retry the engine marks in doubt (`inDoubt`: session-kicks.ts). Nothing is stored per key, so a replay is
 * not marked `replayed`: an `unchanged` after an in-doubt attempt may be our own write (the engine's `in_doubt`).
 *
 * Methods never throw for I/O: a database or doveadm that cannot be reached is a `retryable` outcome, with
 * `outcomeUnknown` only when a COMMIT went without an answer.
 */
export class DovecotSqlMailstore extends NativeMailstore implements Mailstore {
  private readonly o: ResolvedDovecotSqlOptions;
  private readonly store: FlagStore;
  protected readonly doveadm: DoveadmClient | undefined;
  protected readonly storePart = 'passdb';
  protected readonly caps: Capabilities;
  protected readonly driverName = 'dovecot-sql';
  /** With a version column; without one, a version is a fingerprint of the switches (desired-state.ts). */
  readonly versionsNameWrites: boolean;
  protected readonly serverHost: string;
  private ended: Promise<void> | undefined;

  constructor(options: DovecotSqlOptions) {
    super();
    this.o = resolveDovecotSqlOptions(options);
    this.serverHost = new URL(this.o.url).hostname;
    this.versionsNameWrites = this.o.versionColumn !== undefined;
    this.store = this.o.dialect === 'postgres' ? new PgFlagStore(this.o) : mysqlFlagStore(this.o);
    this.doveadm = this.o.doveadm
      ? new DoveadmClient({
          ...this.o.doveadm,
          timeoutMs: this.o.doveadm.timeoutMs ?? this.o.timeoutMs,
          secrets: this.o.secrets,
        })
      : undefined;
    this.caps = {
      protocols: ['imap', 'pop3'],
      maxBatchItems: this.o.maxBatchItems,
      revokeSessions: this.doveadm !== undefined,
      // ifVersion is honoured with or without a version column (a fingerprint then; see desired-state.ts).
      conditionalUpdates: true,
      // Writes are desired states: a replay is `unchanged`; no answer is stored under a key.
      idempotencyKeyTtlSeconds: 0,
      propagation:
        this.o.authCacheTtlSeconds > 0
          ? { mode: 'eventual', maxSeconds: this.o.authCacheTtlSeconds }
          : { mode: 'immediate', maxSeconds: 0 },
      rateLimits: { ...this.o.rateLimits },
    };
  }

  protected async readAccess(account: string, opts: CallOptions): Promise<Outcome<AccessRead>> {
    const started = performance.now();
    const progress: Progress = { phase: 'connect' };
    try {
      const rows = rowsOf(account, await this.store.read([account], gate(opts), opts.signal));
      const latencyMs = elapsed(started);
      if (rows.length !== 1) return missingOrAmbiguous(rows.length, latencyMs);
      const { imap, pop3, version } = rows[0];
      const value = { account, protocols: { imap, pop3 }, version, updatedAt: new Date().toISOString(), etag: version };
      return { kind: 'ok', status: 200, value, latencyMs, replayed: false };
    } catch (err) {
      return this.failure(err, progress, false, started, opts.signal);
    }
  }

  protected async writeBatch(
    items: readonly BatchItem[],
    batchOpts: BatchOptions,
    opts: WriteOptions,
  ): Promise<Outcome<BatchResult>> {
    validateIdempotencyKey(opts.idempotencyKey);
    const started = performance.now();
    if (items.length === 0 || items.length > this.o.maxBatchItems) {
      const latencyMs = elapsed(started);
      return items.length === 0
        ? { kind: 'permanent', status: 400, code: 'invalid_request', detail: 'a batch needs items', latencyMs }
        : { kind: 'permanent', status: 413, code: 'batch_too_large', maxItems: this.o.maxBatchItems, latencyMs };
    }
    const first = firstOccurrences(items);
    const decisions: ItemDecision[] = items.map((item, i) =>
      first.get(item.account) === i
        ? { status: 'not_found' }
        : { status: 'invalid', code: 'duplicate_account', detail: 'the account appears earlier in this batch' },
    );
    const decide = (rows: FlagRow[]): RowWrite[] => {
      const writes: RowWrite[] = [];
      for (const [account, i] of first) {
        const d = decideItem(items[i], rowsOf(account, rows));
        decisions[i] = d;
        if (d.status === 'applied') writes.push(this.rowWrite(d.previous, d.next));
      }
      return writes;
    };
    const progress: Progress = { phase: 'connect' };
    let at: string;
    try {
      at = await this.store.write(
        [...first.values()].map((i) => items[i]),
        decide,
        gate(opts),
        progress,
        opts.signal,
      );
    } catch (err) {
      return this.failure(err, progress, true, started, opts.signal);
    }

    const results: BatchItemResult[] = items.map((item, i) => {
      const d = decisions[i];
      const written =
        d.status === 'applied' ? { version: this.rowWrite(d.previous, d.next).version, updatedAt: at } : undefined;
      return itemResult(item.account, d, written, at);
    });
    if (batchOpts.revokeSessions && this.doveadm) {
      const failed = await revokeTurnedOff(this.doveadm, items, results, opts, () => elapsed(started));
      if (failed) return failed;
    }
    const value: BatchResult = { batchId: randomUUID(), summary: summarise(results), results };
    return { kind: 'ok', status: 200, value, latencyMs: elapsed(started), replayed: false };
  }

  async revokeSessions(account: string, opts: WriteOptions): Promise<Outcome<RevokeSessionsResult>> {
    validateIdempotencyKey(opts.idempotencyKey);
    const started = performance.now();
    if (!this.doveadm) {
      const detail = 'no doveadm HTTP API is configured (DOVEADM_URL)';
      return { kind: 'permanent', status: 501, code: 'revoke_not_configured', detail, latencyMs: 0 };
    }
    const progress: Progress = { phase: 'connect' };
    try {
      const rows = rowsOf(account, await this.store.read([account], gate(opts), opts.signal));
      if (rows.length !== 1) return missingOrAmbiguous(rows.length, elapsed(started));
    } catch (err) {
      return this.failure(err, progress, false, started, opts.signal);
    }
    const kicked = await this.doveadm.kick([account], opts.signal);
    if (!kicked.ok) return kicked.failure;
    const value = { account, sessions: kicked.sessions.get(account) ?? 'none' };
    return { kind: 'ok', status: 200, value, latencyMs: elapsed(started), replayed: false };
  }

  /** Idempotent: a second close (or a destroy after it) waits for the first. */
  close(): Promise<void> {
    this.ended ??= Promise.all([this.store.close(), this.doveadm?.close()]).then(() => undefined);
    return this.ended;
  }

  destroy(): Promise<void> {
    this.ended ??= Promise.all([this.store.destroy(), this.doveadm?.destroy()]).then(() => undefined);
    return this.ended;
  }

  /** The row's new values: the version one up (or the new fingerprint), the list with other names kept. */
  private rowWrite(previous: FlagRow, next: { imap: boolean; pop3: boolean }): RowWrite {
    const version = this.o.versionColumn === undefined ? fingerprintVersion(next) : previous.version + 1;
    const w: RowWrite = { login: previous.login, next, version };
    if (this.o.flags.kind === 'list') w.list = formatProtocolList(previous.list, next);
    return w;
  }

  private failure(
    err: unknown,
    progress: Progress,
    isWrite: boolean,
    started: number,
    signal: AbortSignal | undefined,
  ): FailureOutcome {
    const latencyMs = elapsed(started);
    if (err instanceof NotSent) return retryable(err.code, undefined, false, undefined, latencyMs);
    // Committed, but not as decided: in doubt; the engine retries and, repeatedly failing, pauses the wave.
    if (err instanceof TwinMismatch) return retryable('protocol_error', undefined, true, err.message, latencyMs);
    const f = this.store.classify(err);
    // Only a COMMIT that got no answer may have been applied; the server rolls back anything before it.
    const unknown = isWrite && progress.phase === 'commit' && !(f.kind === 'retryable' && f.answered);
    if (signal?.aborted) return retryable('aborted', undefined, unknown, f.detail, latencyMs);
    switch (f.kind) {
      case 'retryable':
        return retryable(f.code, undefined, unknown, f.detail, latencyMs);
      case 'unavailable':
        return { kind: 'unavailable', status: 503, retryAfterMs: UNAVAILABLE_RETRY_MS, latencyMs };
      case 'permanent':
        return { kind: 'permanent', status: f.status, code: f.code, detail: f.detail, latencyMs };
    }
  }
}

/** The rows of one login: exact spelling first; else as the database matched it (MySQL's case-insensitive collations). */
function rowsOf(account: string, rows: readonly FlagRow[]): FlagRow[] {
  const exact = rows.filter((r) => r.login === account);
  if (exact.length > 0) return exact;
  const folded = account.toLowerCase();
  return rows.filter((r) => r.login.toLowerCase() === folded);
}

function missingOrAmbiguous(count: number, latencyMs: number): FailureOutcome {
  return count === 0
    ? { kind: 'permanent', status: 404, code: 'account_not_found', detail: 'no row has this login', latencyMs }
    : { kind: 'permanent', status: 409, code: 'ambiguous_account', detail: `${count} rows have this login`, latencyMs };
}

/** The caller's send window and abort, checked right before the first statement leaves. */
function gate(opts: CallOptions): SendGate {
  return () => {
    if (opts.signal?.aborted) throw new NotSent('aborted');
    if (opts.sendBy !== undefined && performance.now() > opts.sendBy) throw new NotSent('send_window_missed');
  };
}

function elapsed(started: number): number {
  return Math.round(performance.now() - started);
}

/**
 * The MySQL/MariaDB store, loaded on first use: mysql2 costs about 18 MB resident (measured: `require('mysql2/promise')`
 * in a bare node), which a worker on PostgreSQL's passdb, or on another driver, would otherwise carry.
 */
function mysqlFlagStore(options: ResolvedDovecotSqlOptions): FlagStore {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded lazily on purpose (memory, see above)
  const { MysqlFlagStore } = require('./mysql-flag-store') as typeof MysqlFlagStoreModule;
  return new MysqlFlagStore(options);
}
