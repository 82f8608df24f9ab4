import { Pool, type PoolClient } from 'pg';
import type { BatchItem } from '../../mailstore.types';
import type { FlagRow } from './desired-state';
import { quoteIdentifier, redactSecrets, type ResolvedDovecotSqlOptions } from './dovecot-sql.options';
import {
  selectList,
  toFlagRow,
  writtenColumns,
  writtenValues,
  type FlagStore,
  type Progress,
  type RowWrite,
  type SendGate,
  type SqlFailure,
  type TransactionSteps,
  TwinMismatch,
  writeInTransaction,
} from './flag-store';
import { connectionFailure } from './sql-failure';

/**
 * The passdb table on PostgreSQL, through node-postgres (`pg`, the project's PostgreSQL client). Values are always
 * parameters; identifiers are validated at boot and quoted here.
 */
export class PgFlagStore implements FlagStore {
  private readonly pool: Pool;
  private readonly select: string;
  private readonly lock: string;
  private readonly update: string;
  private readonly active = new Set<PoolClient>();

  /** The one-statement batch, for a column per protocol and a version column (else undefined). */
  private readonly single: string | undefined;

  constructor(private readonly o: ResolvedDovecotSqlOptions) {
    this.pool = new Pool({
      connectionString: o.url,
      max: o.poolSize,
      connectionTimeoutMillis: o.timeoutMs,
      // The server ends a statement (a lock wait included) after the timeout; the client gives it one more second.
      statement_timeout: o.timeoutMs,
      query_timeout: o.timeoutMs + 1000,
      idle_in_transaction_session_timeout: o.timeoutMs * 2,
      application_name: 'reopen-dovecot-sql',
    });
    // An idle connection that breaks is dropped by the pool; the next call reports its own failure.
    this.pool.on('error', () => undefined);
    // Each connection keeps a listener for its whole life. The pool takes its own off as it hands a connection out,
    // and withClient puts one on only once the borrower runs: a FATAL parsed in the same chunk as the ReadyForQuery
    // that ended the start-up (a backend terminated right then) is emitted in between, with no listener, which ends
    // the process (pg-connection-ends.int-spec). Swallowed here, the connection is left not queryable, so the
    // borrower's first statement fails as its call's own failure and the connection is not handed back.
    this.pool.on('connect', (client) => client.on('error', () => undefined));
    const q = (name: string) => quoteIdentifier('postgres', name);
    const table = q(o.table);
    this.select = `SELECT ${selectList(o)} FROM ${table} WHERE ${q(o.loginColumn)} = ANY($1::text[])`;
    this.lock = `${this.select} FOR UPDATE`;
    const cols = writtenColumns(o);
    const types = o.flags.kind === 'columns' ? ['boolean', 'boolean'] : ['text'];
    if (o.versionColumn !== undefined) types.push('bigint');
    const vcols = cols.map((_, i) => `c${i}`);
    // One statement for every changed row of the batch.
    this.update =
      `UPDATE ${table} AS t SET ${cols.map((c, i) => `${q(c)} = v.${vcols[i]}`).join(', ')} ` +
      `FROM jsonb_to_recordset($1::jsonb) AS v(login text, ${vcols.map((c, i) => `${c} ${types[i]}`).join(', ')}) ` +
      `WHERE t.${q(o.loginColumn)} = v.login`;
    this.single =
      o.flags.kind === 'columns' && o.versionColumn !== undefined
        ? singleStatement(table, q(o.loginColumn), q(o.flags.imap), q(o.flags.pop3), q(o.versionColumn))
        : undefined;
  }

  async read(logins: readonly string[], gate: SendGate, signal?: AbortSignal): Promise<FlagRow[]> {
    return this.withClient(signal, async (c) => {
      gate();
      const res = await c.query<Record<string, unknown>>(this.select, [logins]);
      return res.rows.map((r) => toFlagRow(r, this.o));
    });
  }

  async write(
    items: readonly BatchItem[],
    decide: (rows: FlagRow[]) => RowWrite[],
    gate: SendGate,
    progress: Progress,
    signal?: AbortSignal,
  ): Promise<string> {
    const logins = items.map((i) => i.account);
    return this.withClient(signal, async (c) => {
      gate();
      if (this.single !== undefined) return this.writeInOneStatement(c, this.single, items, decide, progress);
      const steps: TransactionSteps = {
        begin: () => c.query('BEGIN'),
        lock: async () => (await c.query<Record<string, unknown>>(this.lock, [logins])).rows,
        update: (writes) => {
          const rows = writes.map((w) => {
            const row: Record<string, unknown> = { login: w.login };
            writtenValues(w, this.o).forEach((v, i) => (row[`c${i}`] = v));
            return row;
          });
          return c.query(this.update, [JSON.stringify(rows)]);
        },
        commit: () => c.query('COMMIT'),
      };
      return writeInTransaction(steps, decide, progress, this.o);
    });
  }

  /**
   * Lock, read, decide and write in one autocommitted statement (one round trip for the batch). Its WHERE is the SQL
   * twin of decideItem (desired-state.ts); the rows it reports written are checked against what decideItem says of
   * the same locked rows, so the twin cannot drift unseen (the conformance suite runs this path too).
   */
  private async writeInOneStatement(
    c: PoolClient,
    sql: string,
    items: readonly BatchItem[],
    decide: (rows: FlagRow[]) => RowWrite[],
    progress: Progress,
  ): Promise<string> {
    const input = items.map((i) => ({
      login: i.account,
      imap: i.protocols.imap ?? null,
      pop3: i.protocols.pop3 ?? null,
      if_version: i.ifVersion ?? null,
    }));
    progress.phase = 'commit'; // one statement is its own transaction: without an answer, it may have committed
    const res = await c.query<Record<string, unknown>>(sql, [JSON.stringify(input), input.map((i) => i.login)]);
    progress.phase = 'done';
    const writes = decide(res.rows.map((r) => toFlagRow(r, this.o)));
    const decided = new Map(writes.map((w) => [w.login, w.version]));
    const written = new Map(
      res.rows.filter((r) => r.written === true).map((r) => [String(r.login), Number(r.new_version)]),
    );
    const same = decided.size === written.size && [...decided].every(([login, v]) => written.get(login) === v);
    if (!same) {
      throw new TwinMismatch(
        `the batch statement wrote ${written.size} rows where the rule decided ${decided.size}: report this as a bug`,
      );
    }
    return new Date().toISOString();
  }

  /** SQLSTATE classes: https://www.postgresql.org/docs/current/errcodes-appendix.html */
  classify(err: unknown): SqlFailure {
    const e = err as { code?: unknown; message?: unknown };
    const code = typeof e.code === 'string' ? e.code : '';
    const detail = redactSecrets(`${code ? `${code} ` : ''}${String(e.message ?? err)}`, this.o.secrets);
    if (/^[0-9A-Z]{5}$/.test(code)) {
      if (code.startsWith('28')) return { kind: 'permanent', status: 401, code: 'unauthorized', detail };
      if (code === '42501') return { kind: 'permanent', status: 403, code: 'forbidden', detail };
      // Undefined table/column/database, a flag column that is not boolean: the configuration does not fit.
      if (['42P01', '42703', '3D000', '3F000', '42804', '42883'].includes(code)) {
        return { kind: 'permanent', status: 403, code: 'schema_mismatch', detail };
      }
      if (code === '57014' || code === '55P03') return { kind: 'retryable', code: 'timeout', answered: true, detail };
      if (code.startsWith('08') || code.startsWith('57P')) {
        return { kind: 'retryable', code: 'connection_reset', answered: true, detail };
      }
      if (code.startsWith('53')) return { kind: 'unavailable', detail };
      return { kind: 'retryable', code: 'internal', answered: true, detail };
    }
    // pg's own query_timeout, or the pool's connect timeout: no answer came.
    if (/timeout/i.test(String(e.message))) return { kind: 'retryable', code: 'timeout', answered: false, detail };
    return connectionFailure(code, detail);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  async destroy(): Promise<void> {
    for (const c of this.active) this.kill(c);
    await this.pool.end();
  }

  private async withClient<T>(signal: AbortSignal | undefined, fn: (c: PoolClient) => Promise<T>): Promise<T> {
    const c = await this.pool.connect();
    this.active.add(c);
    const onAbort = () => this.kill(c);
    signal?.addEventListener('abort', onAbort, { once: true });
    let broken: Error | undefined;
    // A connection the server ends while it is ours, between two statements (an administrator's
    // pg_terminate_backend, a restart), is kept here as broken: the next statement then fails as the call's own
    // failure, and the connection is not handed back (the 'connect' listener above keeps the process alive).
    const onError = (err: Error) => (broken ??= err);
    c.on('error', onError);
    try {
      return await fn(c);
    } catch (err) {
      // Never hand a connection in an unknown state back to the pool: it is closed (an open transaction with it).
      broken = err instanceof Error ? err : new Error(String(err));
      throw err;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      c.off('error', onError);
      this.active.delete(c);
      c.release(broken);
    }
  }

  /** Ends a connection whose call was aborted; its statement fails with "Connection terminated". */
  private kill(c: PoolClient): void {
    (c as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
  }
}

/**
 * The batch in one statement: `p` locks and reads the rows (NULL switches as off, a NULL version as 0), `u` keeps the
 * logins whose row is unique (one hash aggregate: a count per row of `p` was quadratic, 3/4 of a 500-item batch's time
 * in bench:driver), `w` writes the items whose row is unique, whose ifVersion holds and whose desired state differs
 * (decideItem's rule), and the answer is every locked row with whether it was written. Identifiers come quoted.
 */
function singleStatement(table: string, login: string, imap: string, pop3: string, version: string): string {
  return `WITH v AS (
  SELECT * FROM jsonb_to_recordset($1::jsonb) AS v(login text, imap boolean, pop3 boolean, if_version bigint)
), p AS (
  SELECT t.${login} AS login, COALESCE(t.${imap}, false) AS imap, COALESCE(t.${pop3}, false) AS pop3,
         COALESCE(t.${version}, 0) AS version
  FROM ${table} AS t WHERE t.${login} = ANY($2::text[]) FOR UPDATE
), u AS (
  SELECT login FROM p GROUP BY login HAVING count(*) = 1
), w AS (
  UPDATE ${table} AS t
  SET ${imap} = COALESCE(v.imap, p.imap), ${pop3} = COALESCE(v.pop3, p.pop3), ${version} = p.version + 1
  FROM v JOIN p ON p.login = v.login JOIN u ON u.login = p.login
  WHERE t.${login} = p.login
    AND (v.if_version IS NULL OR v.if_version = p.version)
    AND (COALESCE(v.imap, p.imap) <> p.imap OR COALESCE(v.pop3, p.pop3) <> p.pop3)
  RETURNING t.${login} AS login, t.${version} AS new_version
)
SELECT p.login, p.imap, p.pop3, p.version, w.login IS NOT NULL AS written, w.new_version
FROM p LEFT JOIN w ON w.login = p.login`;
}
