import type { AnalysisCounts, Measurement, MeasurementPhase } from '@app/domain';
import { Sql } from '../db/sql';

export interface MeasurementKey {
  waveId: string;
  /** The wave's run (start or resume): an analysis counts the measurements of one run. */
  generation: number;
  gate: string;
  /** The interval it belongs to (floor of epoch seconds / intervalSeconds): one row per interval of a run. */
  slot: number;
}

/** Where one gate's analysis stands in the current run. */
export interface GateRun {
  counts: AnalysisCounts;
  last: (Measurement & { takenAt: Date }) | null;
}

export interface StoredMeasurement extends Measurement {
  gate: string;
  takenAt: Date;
}

interface RunRow {
  gate: string;
  measurements: number;
  successful: number;
  failed: number;
  inconclusive: number;
  errors: number;
  consecutive_errors: number;
  phase: MeasurementPhase;
  value: number | null;
  reason: string;
  taken_at: Date;
}

/** The SQL of gate_measurements (migrations/1764401000000-gate-measurements.ts), and nothing else. */
export class GateMeasurementRepository {
  /** Writes a measurement unless one of that run's interval exists (another worker's): false then. */
  async record(sql: Sql, key: MeasurementKey, m: Measurement, takenAt: Date): Promise<boolean> {
    const rows = await sql(
      `INSERT INTO gate_measurements (wave_id, generation, gate, slot, taken_at, phase, value, reason)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (wave_id, generation, gate, slot) DO NOTHING RETURNING 1`,
      [key.waveId, key.generation, key.gate, key.slot, takenAt, m.phase, numberOrNull(m.value), m.reason],
    );
    return rows.length === 1;
  }

  /** Whether the run's interval already has its measurement (the worker that took it may be another). */
  async taken(sql: Sql, key: MeasurementKey): Promise<boolean> {
    const rows = await sql(
      `SELECT 1 FROM gate_measurements WHERE wave_id = $1 AND generation = $2 AND gate = $3 AND slot = $4`,
      [key.waveId, key.generation, key.gate, key.slot],
    );
    return rows.length > 0;
  }

  /**
   * Each gate's analysis in the wave's run, in one statement: the counts by phase, the errors since the last
   * measurement that was not one (consecutive), and the newest measurement.
   */
  async runs(sql: Sql, waveId: string, generation: number): Promise<Map<string, GateRun>> {
    const rows = await sql<RunRow>(
      `WITH m AS (
         SELECT id, gate, phase, value, reason, taken_at FROM gate_measurements WHERE wave_id = $1 AND generation = $2),
       settled AS (SELECT gate, max(id) AS id FROM m WHERE phase <> 'error' GROUP BY gate),
       counts AS (
         SELECT m.gate, count(*)::int AS measurements,
                count(*) FILTER (WHERE phase = 'successful')::int AS successful,
                count(*) FILTER (WHERE phase = 'failed')::int AS failed,
                count(*) FILTER (WHERE phase = 'inconclusive')::int AS inconclusive,
                count(*) FILTER (WHERE phase = 'error')::int AS errors,
                count(*) FILTER (WHERE phase = 'error' AND m.id > coalesce(s.id, 0))::int AS consecutive_errors
           FROM m LEFT JOIN settled s USING (gate) GROUP BY m.gate),
       newest AS (SELECT DISTINCT ON (gate) gate, phase, value, reason, taken_at FROM m ORDER BY gate, id DESC)
       SELECT * FROM counts JOIN newest USING (gate)`,
      [waveId, generation],
    );
    return new Map(
      rows.map((r) => [
        r.gate,
        {
          counts: {
            measurements: r.measurements,
            successful: r.successful,
            failed: r.failed,
            inconclusive: r.inconclusive,
            errors: r.errors,
            consecutiveErrors: r.consecutive_errors,
          },
          last: {
            phase: r.phase,
            reason: r.reason,
            takenAt: r.taken_at,
            ...(r.value === null ? {} : { value: r.value }),
          },
        },
      ]),
    );
  }

  /** The newest measurements of a wave (every run), newest first: progress and the status page show them. */
  async recent(sql: Sql, waveId: string, limit: number): Promise<StoredMeasurement[]> {
    const rows = await sql<{
      gate: string;
      phase: MeasurementPhase;
      value: number | null;
      reason: string;
      taken_at: Date;
    }>(
      `SELECT gate, phase, value, reason, taken_at FROM gate_measurements WHERE wave_id = $1
        ORDER BY taken_at DESC, id DESC LIMIT $2`,
      [waveId, limit],
    );
    return rows.map((r) => ({
      gate: r.gate,
      phase: r.phase,
      reason: r.reason,
      takenAt: r.taken_at,
      ...(r.value === null ? {} : { value: r.value }),
    }));
  }
}

/** NaN and ±Infinity are kept as what they are (double precision holds them); undefined is NULL. */
function numberOrNull(value: number | undefined): number | null {
  return value === undefined ? null : value;
}
