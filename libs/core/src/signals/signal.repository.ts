import { Sql } from '../db/sql';

/** A stored signal sample. */
export interface SignalRow {
  id: string;
  name: string;
  value: number;
  window_seconds: number;
  observed_at: Date;
  cohort: string | null;
  received_at: Date;
  source: string | null;
}

/** The statements of pushed signals (signals_lookup_idx (name, cohort, observed_at DESC) serves every read). */
export class SignalRepository {
  /** Stores one validated sample. */
  async insert(
    sql: Sql,
    s: { name: string; value: number; windowSeconds: number; observedAt: Date; cohort: string | null; source: string },
  ): Promise<SignalRow> {
    const [row] = await sql<SignalRow>(
      `INSERT INTO signals (name, value, window_seconds, observed_at, cohort, source)
       VALUES ($1, $2, $3, $4, $5, $6)
       RETURNING id, name, value, window_seconds, observed_at, cohort, received_at, source`,
      [s.name, s.value, s.windowSeconds, s.observedAt, s.cohort, s.source],
    );
    return row;
  }

  /** The newest sample of each (name, cohort) pair, in one round trip (a LATERAL index probe per pair). */
  latest(
    sql: Sql,
    keys: readonly { name: string; cohort: string | null }[],
  ): Promise<{ name: string; cohort: string | null; value: number; window_seconds: number; observed_at: Date }[]> {
    return sql(
      `SELECT k.name, k.cohort, s.value, s.window_seconds, s.observed_at
         FROM unnest($1::text[], $2::text[]) AS k(name, cohort)
         CROSS JOIN LATERAL (
           -- Two arms rather than IS NOT DISTINCT FROM, which no index serves.
           (SELECT value, window_seconds, observed_at FROM signals
             WHERE name = k.name AND cohort = k.cohort ORDER BY observed_at DESC LIMIT 1)
           UNION ALL
           (SELECT value, window_seconds, observed_at FROM signals
             WHERE k.cohort IS NULL AND name = k.name AND cohort IS NULL ORDER BY observed_at DESC LIMIT 1)) s`,
      [keys.map((k) => k.name), keys.map((k) => k.cohort)],
    );
  }
}
