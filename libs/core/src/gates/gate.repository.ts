import { Gate, SignalSample, WindowSummary } from '@app/domain';
import { CALL_FAILED_SQL } from '../engine/call-record';
import { Sql } from '../db/sql';

/** A running wave with gates. */
export interface GatedWave {
  id: string;
  /** The run (start or resume) a measured gate's analysis counts in. */
  generation: number;
  gates: Gate[];
}

/** The statements of the gate evaluator: its inputs (calls log, signals) and its verdict on the wave row. */
export class GateRepository {
  /** Running waves that have gates. */
  gatedWaves(sql: Sql): Promise<GatedWave[]> {
    return sql<GatedWave>(
      `SELECT id, generation, gates FROM waves WHERE state = 'running' AND jsonb_array_length(gates) > 0`,
    );
  }

  /** One wave's gates, whatever its state; null when there is no such wave. */
  async waveGates(sql: Sql, waveId: string): Promise<Gate[] | null> {
    const [row] = await sql<{ gates: Gate[] }>(`SELECT gates FROM waves WHERE id = $1`, [waveId]);
    return row ? row.gates : null;
  }

  /** Stores the last verdict on the wave row (progress shows it). */
  async saveVerdict(sql: Sql, waveId: string, detail: unknown, evaluatedAt: Date): Promise<void> {
    await sql(`UPDATE waves SET gate_state = $2, gate_evaluated_at = $3 WHERE id = $1`, [
      waveId,
      JSON.stringify(detail),
      evaluatedAt,
    ]);
  }

  /**
   * A wave's logged calls over the last `windowSeconds`. Errors: 5xx and 503, timeouts and resets, permanent answers,
   * and calls whose items came back failed.
   */
  async callWindow(sql: Sql, waveId: string, windowSeconds: number): Promise<WindowSummary> {
    const [row] = await sql<{ calls: string; errors: string; p95: number | null }>(
      `SELECT count(*) AS calls,
              count(*) FILTER (WHERE ${CALL_FAILED_SQL} OR item_errors > 0) AS errors,
              percentile_disc(0.95) WITHIN GROUP (ORDER BY latency_ms) AS p95
         FROM mailstore_calls
        WHERE wave_id = $1 AND started_at > now() - ($2 || ' seconds')::interval`,
      [waveId, String(windowSeconds)],
    );
    return { calls: Number(row?.calls ?? 0), errors: Number(row?.errors ?? 0), p95LatencyMs: row?.p95 ?? null };
  }

  /** The newest sample of a signal for a cohort (null: population-wide). */
  async latestSignal(sql: Sql, name: string, cohort: string | null): Promise<SignalSample | null> {
    const [row] = await sql<{ value: number; observed_at: Date; window_seconds: number }>(
      // `cohort = $2` / `cohort IS NULL` (not IS NOT DISTINCT FROM) so signals_lookup_idx serves it every second.
      cohort === null
        ? `SELECT value, observed_at, window_seconds FROM signals
            WHERE name = $1 AND cohort IS NULL ORDER BY observed_at DESC LIMIT 1`
        : `SELECT value, observed_at, window_seconds FROM signals
            WHERE name = $1 AND cohort = $2 ORDER BY observed_at DESC LIMIT 1`,
      cohort === null ? [name] : [name, cohort],
    );
    return row ? { value: row.value, observedAt: row.observed_at, windowSeconds: row.window_seconds } : null;
  }
}
