import type { DataSource, QueryRunner } from 'typeorm';
import type { TestDatabase } from './test-database';

/**
 * "The counters equal the truth" (invariant 4), defined once for the tests and the benches: `readCounters` is what the
 * engine keeps incrementally in wave_counters, `countersFromTruth` the same names recomputed from wave_members, and a
 * wave's record is right when the two are equal (`countersDiff` empty).
 */
export type Counters = Record<string, number>;

/** Anything that runs SQL: a DataSource, or a QueryRunner inside a snapshot transaction. */
export interface Queryable {
  query(sql: string, params?: unknown[]): Promise<unknown>;
}

/** The wave's counters as the engine keeps them, zeros left out (rows that moved and came back). */
export async function readCounters(q: Queryable, waveId: string): Promise<Counters> {
  const rows = (await q.query(`SELECT name, value FROM wave_counters WHERE wave_id = $1`, [waveId])) as {
    name: string;
    value: string;
  }[];
  // Zero counters are rows that moved and came back; the truth query has no zero rows.
  return Object.fromEntries(rows.filter((r) => Number(r.value) !== 0).map((r) => [r.name, Number(r.value)]));
}

/**
 * Counters recomputed from wave_members: what the incremental counters must equal (invariant 4). Once a wave's
 * rollback has begun, its enabled members with no rollback_state yet are its pending restorations. Pass a
 * QueryRunner in a REPEATABLE READ transaction (`inSnapshot`) to compare both in one snapshot while the wave runs.
 */
export async function countersFromTruth(source: TestDatabase | Queryable, waveId: string): Promise<Counters> {
  // A QueryRunner also has a dataSource property: tell a TestDatabase by its drop().
  const q: Queryable = 'drop' in source ? source.dataSource : source;
  const rows = (await q.query(
    `SELECT 'total' AS name, count(*) AS value FROM wave_members WHERE wave_id = $1
     UNION ALL SELECT state, count(*) FROM wave_members WHERE wave_id = $1 GROUP BY state
     UNION ALL SELECT state || ':' || reason, count(*) FROM wave_members WHERE wave_id = $1 AND reason IS NOT NULL AND state <> 'cancelled' GROUP BY state, reason
     UNION ALL SELECT 'rollback:' || rollback_state, count(*) FROM wave_members WHERE wave_id = $1 AND rollback_state IS NOT NULL GROUP BY rollback_state
     UNION ALL SELECT 'rollback:pending', count(*) FROM wave_members m JOIN waves w ON w.id = m.wave_id
                WHERE m.wave_id = $1 AND w.rollback_started_at IS NOT NULL AND m.state = 'enabled' AND m.rollback_state IS NULL
     UNION ALL SELECT 'rollback:total', count(*) FROM wave_members m JOIN waves w ON w.id = m.wave_id
                WHERE m.wave_id = $1 AND (m.rollback_state IS NOT NULL OR (w.rollback_started_at IS NOT NULL AND m.state = 'enabled'))
     UNION ALL SELECT 'rollback:failed:' || rollback_reason, count(*) FROM wave_members WHERE wave_id = $1 AND rollback_state = 'failed' GROUP BY rollback_reason`,
    [waveId],
  )) as { name: string; value: string }[];
  return Object.fromEntries(rows.filter((r) => Number(r.value) > 0).map((r) => [r.name, Number(r.value)]));
}

/** Both sides read on one connection (a QueryRunner in `inSnapshot`: the same snapshot). */
export async function countersAndTruth(q: Queryable, waveId: string): Promise<{ counters: Counters; truth: Counters }> {
  return { counters: await readCounters(q, waveId), truth: await countersFromTruth(q, waveId) };
}

/** The names whose counter differs from the truth (a missing name counts 0); empty when the record is right. */
export function countersDiff(counters: Counters, truth: Counters): Record<string, { counter: number; truth: number }> {
  const diff: Record<string, { counter: number; truth: number }> = {};
  for (const k of new Set([...Object.keys(counters), ...Object.keys(truth)]))
    if ((counters[k] ?? 0) !== (truth[k] ?? 0)) diff[k] = { counter: counters[k] ?? 0, truth: truth[k] ?? 0 };
  return diff;
}

/** Runs `fn` in one REPEATABLE READ transaction: every read sees the same snapshot while the engine writes. */
export async function inSnapshot<T>(dataSource: DataSource, fn: (q: QueryRunner) => Promise<T>): Promise<T> {
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    await runner.startTransaction('REPEATABLE READ');
    const result = await fn(runner);
    await runner.commitTransaction();
    return result;
  } catch (err) {
    // Never hand a connection back to the pool inside a transaction.
    if (runner.isTransactionActive) await runner.rollbackTransaction();
    throw err;
  } finally {
    await runner.release();
  }
}
