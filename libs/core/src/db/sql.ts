import { DataSource, QueryRunner } from 'typeorm';
import { CounterDelta } from '@app/domain';

/**
 * Runs one statement and gives its rows. Over one connection (sqlOf: a pump's, or a transaction's, see withTransaction)
 * or over the pool (sqlOfDataSource).
 */
export type Sql = <T = Record<string, unknown>>(text: string, params?: unknown[]) => Promise<T[]>;

export function sqlOf(runner: QueryRunner): Sql {
  return async <T>(text: string, params: unknown[] = []) => {
    const result = (await runner.query(text, params, true)) as { records: T[] };
    return result.records;
  };
}

/** The same over a DataSource's pool (one statement per call, no session state). */
export function sqlOfDataSource(dataSource: DataSource): Sql {
  return <T>(text: string, params: unknown[] = []) => dataSource.query<T[]>(text, params);
}

/**
 * Applies a counters delta in one statement. Names are sorted so concurrent transactions lock the counter
 * rows in the same order (no deadlocks between pumps).
 */
export async function applyCounters(sql: Sql, waveId: string, delta: CounterDelta): Promise<void> {
  const { names, values } = counterParams(delta);
  if (!names.length) return;
  await sql(
    `INSERT INTO wave_counters (wave_id, name, value)
     SELECT $1, n, v FROM unnest($2::text[], $3::bigint[]) AS t(n, v)
     ON CONFLICT (wave_id, name) DO UPDATE SET value = wave_counters.value + EXCLUDED.value`,
    [waveId, names, values],
  );
}

/** A delta as parallel arrays, non-zero entries only, names sorted (the lock order every writer follows). */
export function counterParams(delta: CounterDelta): { names: string[]; values: number[] } {
  const names = Object.keys(delta)
    .filter((n) => delta[n] !== 0)
    .sort();
  return { names, values: names.map((n) => delta[n]) };
}

export interface AuditRecord {
  actor: string;
  action: string;
  waveId?: string | null;
  accountId?: number | null;
  login?: string | null;
  operationId?: string | null;
  reason?: string | null;
  ticket?: string | null;
  before?: unknown;
  after?: unknown;
  detail?: unknown;
}

export async function audit(sql: Sql, r: AuditRecord): Promise<void> {
  await sql(
    `INSERT INTO audit_log (actor, action, wave_id, account_id, login, operation_id, reason, ticket, before, after, detail)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
    [
      r.actor,
      r.action,
      r.waveId ?? null,
      r.accountId ?? null,
      r.login ?? null,
      r.operationId ?? null,
      r.reason ?? null,
      r.ticket ?? null,
      r.before === undefined ? null : JSON.stringify(r.before),
      r.after === undefined ? null : JSON.stringify(r.after),
      r.detail === undefined ? null : JSON.stringify(r.detail),
    ],
  );
}
