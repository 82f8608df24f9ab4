import { createPool, type Pool, type PoolConnection } from 'mysql2/promise';
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
  writeInTransaction,
} from './flag-store';
import { connectionFailure } from './sql-failure';

/**
 * The passdb table on MySQL or MariaDB, through mysql2 (a maintained client: pool, promises, placeholders escaped by
 * the client). Values are always `?` placeholders; identifiers are validated at boot and quoted here. MySQL has no
 * `UPDATE … RETURNING`, so a batch is the locking read and one multi-row UPDATE in one transaction.
 */
export class MysqlFlagStore implements FlagStore {
  private readonly pool: Pool;
  private readonly select: string;
  private readonly active = new Set<PoolConnection>();

  constructor(private readonly o: ResolvedDovecotSqlOptions) {
    const url = new URL(o.url);
    if (url.protocol === 'mariadb:') url.protocol = 'mysql:';
    this.pool = createPool({
      uri: url.toString(),
      connectionLimit: o.poolSize,
      connectTimeout: o.timeoutMs,
      enableKeepAlive: true,
      // DATETIME and BIGINT as JavaScript values; flags come back as 0/1.
      supportBigNumbers: false,
    });
    const q = (name: string) => quoteIdentifier('mysql', name);
    this.select = `SELECT ${selectList(o)} FROM ${q(o.table)} WHERE ${q(o.loginColumn)} IN (?)`;
  }

  async read(logins: readonly string[], gate: SendGate, signal?: AbortSignal): Promise<FlagRow[]> {
    return this.withConnection(signal, async (c) => {
      gate();
      const [rows] = await c.query({ sql: this.select, timeout: this.o.timeoutMs }, [logins]);
      return (rows as Record<string, unknown>[]).map((r) => toFlagRow(r, this.o));
    });
  }

  async write(
    items: readonly BatchItem[],
    decide: (rows: FlagRow[]) => RowWrite[],
    gate: SendGate,
    progress: Progress,
    signal?: AbortSignal,
  ): Promise<string> {
    return this.withConnection(signal, async (c) => {
      gate();
      const query = (sql: string, values?: unknown[]) => c.query({ sql, timeout: this.o.timeoutMs }, values);
      const logins = items.map((i) => i.account);
      const steps: TransactionSteps = {
        begin: () => query('START TRANSACTION'),
        lock: async () => (await query(`${this.select} FOR UPDATE`, [logins]))[0] as Record<string, unknown>[],
        update: (writes) => {
          const { sql, values } = this.update(writes);
          return query(sql, values);
        },
        commit: () => query('COMMIT'),
      };
      return writeInTransaction(steps, decide, progress, this.o);
    });
  }

  /** One statement for every changed row: the table joined with the rows' new values. */
  private update(writes: RowWrite[]): { sql: string; values: unknown[] } {
    const q = (name: string) => quoteIdentifier('mysql', name);
    const cols = writtenColumns(this.o);
    const first = `SELECT ? AS login, ${cols.map((_, i) => `? AS c${i}`).join(', ')}`;
    const rest = `SELECT ?, ${cols.map(() => '?').join(', ')}`;
    const derived = [first, ...writes.slice(1).map(() => rest)].join(' UNION ALL ');
    const values = writes.flatMap((w) => [w.login, ...writtenValues(w, this.o)]);
    const sql =
      `UPDATE ${q(this.o.table)} AS t JOIN (${derived}) AS v ON t.${q(this.o.loginColumn)} = v.login ` +
      `SET ${cols.map((c, i) => `t.${q(c)} = v.c${i}`).join(', ')}`;
    return { sql, values };
  }

  /** Server error codes: https://mariadb.com/kb/en/mariadb-error-code-reference/ */
  classify(err: unknown): SqlFailure {
    const e = err as { code?: unknown; errno?: unknown; sqlState?: unknown; message?: unknown };
    const code = typeof e.code === 'string' ? e.code : '';
    const detail = redactSecrets(`${code ? `${code} ` : ''}${String(e.message ?? err)}`, this.o.secrets);
    switch (code) {
      case 'ER_ACCESS_DENIED_ERROR':
      case 'ER_DBACCESS_DENIED_ERROR':
        return { kind: 'permanent', status: 401, code: 'unauthorized', detail };
      case 'ER_TABLEACCESS_DENIED_ERROR':
      case 'ER_COLUMNACCESS_DENIED_ERROR':
      case 'ER_SPECIFIC_ACCESS_DENIED_ERROR':
        return { kind: 'permanent', status: 403, code: 'forbidden', detail };
      case 'ER_NO_SUCH_TABLE':
      case 'ER_BAD_FIELD_ERROR':
      case 'ER_BAD_DB_ERROR':
        return { kind: 'permanent', status: 403, code: 'schema_mismatch', detail };
      case 'ER_LOCK_WAIT_TIMEOUT':
      case 'ER_QUERY_TIMEOUT':
      case 'ER_STATEMENT_TIMEOUT':
        return { kind: 'retryable', code: 'timeout', answered: true, detail };
      case 'ER_CON_COUNT_ERROR':
      case 'ER_TOO_MANY_USER_CONNECTIONS':
        return { kind: 'unavailable', detail };
    }
    if (typeof e.sqlState === 'string' && typeof e.errno === 'number') {
      return { kind: 'retryable', code: 'internal', answered: true, detail }; // deadlock, server restarting …: try again
    }
    return connectionFailure(code, detail);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  async destroy(): Promise<void> {
    for (const c of this.active) c.destroy();
    await this.pool.end();
  }

  private async withConnection<T>(signal: AbortSignal | undefined, fn: (c: PoolConnection) => Promise<T>): Promise<T> {
    const c = await this.acquire();
    this.active.add(c);
    const onAbort = () => c.destroy();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const result = await fn(c);
      c.release();
      return result;
    } catch (err) {
      // Never hand back a connection in an unknown state: closing it rolls back an open transaction.
      c.destroy();
      throw err;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      this.active.delete(c);
    }
  }

  /** mysql2's pool waits for a free connection without a bound: this one gives up after the timeout. */
  private async acquire(): Promise<PoolConnection> {
    let timer: NodeJS.Timeout | undefined;
    const pending = this.pool.getConnection();
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(Object.assign(new Error('no database connection within the timeout'), { code: 'ETIMEDOUT' })),
        this.o.timeoutMs,
      );
    });
    try {
      return await Promise.race([pending, timeout]);
    } catch (err) {
      // A connection that arrives after we gave up goes straight back to the pool.
      pending.then((c) => c.release()).catch(() => undefined);
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }
}
