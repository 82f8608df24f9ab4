import { Pool, type PoolClient } from 'pg';
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
  }

  async read(logins: readonly string[], gate: SendGate, signal?: AbortSignal): Promise<FlagRow[]> {
    return this.withClient(signal, async (c) => {
      gate();
      const res = await c.query<Record<string, unknown>>(this.select, [logins]);
      return res.rows.map((r) => toFlagRow(r, this.o));
    });
  }

  async write(
    logins: readonly string[],
    decide: (rows: FlagRow[]) => RowWrite[],
    gate: SendGate,
    progress: Progress,
    signal?: AbortSignal,
  ): Promise<string> {
    return this.withClient(signal, async (c) => {
      gate();
      progress.phase = 'statements';
      await c.query('BEGIN');
      const locked = await c.query<Record<string, unknown>>(this.lock, [logins]);
      const writes = decide(locked.rows.map((r) => toFlagRow(r, this.o)));
      if (writes.length > 0) {
        const rows = writes.map((w) => {
          const row: Record<string, unknown> = { login: w.login };
          writtenValues(w, this.o).forEach((v, i) => (row[`c${i}`] = v));
          return row;
        });
        await c.query(this.update, [JSON.stringify(rows)]);
      }
      progress.phase = 'commit';
      await c.query('COMMIT');
      progress.phase = 'done';
      return new Date().toISOString();
    });
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
    try {
      return await fn(c);
    } catch (err) {
      // Never hand a connection in an unknown state back to the pool: it is closed (an open transaction with it).
      broken = err instanceof Error ? err : new Error(String(err));
      throw err;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      this.active.delete(c);
      c.release(broken);
    }
  }

  /** Ends a connection whose call was aborted; its statement fails with "Connection terminated". */
  private kill(c: PoolClient): void {
    (c as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
  }
}
