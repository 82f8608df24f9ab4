import { CounterDelta } from '@app/domain';
import { Sql } from './sql';

/*
 * The one writer of wave_counters: a counter only ever changes by an amount added to its (wave, name) row, created at
 * zero when missing, and every writer locks the rows in the order of their names (counterParams sorts them), so
 * transactions that add to the same counters never deadlock. `applyCounters` for a delta known in TypeScript,
 * `countersUpsertSql` for a one-statement write that derives the amounts from its own rows (a claim, a settle).
 */

/** Adds a delta in one statement. */
export async function applyCounters(sql: Sql, waveId: string, delta: CounterDelta): Promise<void> {
  const { names, values } = counterParams(delta);
  if (!names.length) return;
  await sql(countersUpsertSql(`SELECT $1, n, v FROM unnest($2::text[], $3::bigint[]) AS t(n, v)`), [
    waveId,
    names,
    values,
  ]);
}

/**
 * `INSERT INTO wave_counters … ON CONFLICT … DO UPDATE` adding the (wave_id, name, amount) rows that `source`, a
 * SELECT, gives (names from counterParams, so in lock order).
 */
export function countersUpsertSql(source: string): string {
  return `INSERT INTO wave_counters (wave_id, name, value)
       ${source}
       ON CONFLICT (wave_id, name) DO UPDATE SET value = wave_counters.value + EXCLUDED.value`;
}

/** A delta as parallel arrays, non-zero entries only, names sorted (the lock order every writer follows). */
export function counterParams(delta: CounterDelta): { names: string[]; values: number[] } {
  const names = Object.keys(delta)
    .filter((n) => delta[n] !== 0)
    .sort();
  return { names, values: names.map((n) => delta[n]) };
}
