import { Counters, FINISHED_STATES, RampStep, TimeWindows, WaveState } from '@app/domain';
import { OVERVIEW_RECENT_HOURS, RATE_WINDOW_SECONDS } from './progress.types';
import { Sql } from '../db/sql';

export interface ProgressRow {
  id: string;
  name: string;
  state: WaveState;
  status_reason: string | null;
  status_detail: Record<string, unknown> | null;
  protocols: string[];
  rate_per_second: number;
  rollback_rate_per_second: number;
  steps: RampStep[];
  gates: Record<string, unknown>[];
  gate_state: Record<string, unknown>[] | null;
  gate_evaluated_at: Date | null;
  current_step: number;
  step_limit_seq: number | null;
  bake_until: Date | null;
  start_at: Date | null;
  started_at: Date | null;
  completed_at: Date | null;
  rollback_started_at: Date | null;
  rollback_completed_at: Date | null;
  version: number;
  windows: TimeWindows | null;
  now: Date;
  counters: Counters;
  recent_sent: string;
  /**
   * Where the rate's window ends: now while the wave can still send, its end (completed, cancelled, rolled back) once
   * finished, so a finished wave's view, and its ETag, stop changing.
   */
  rate_until: Date;
  reclosed: number;
  /** Members of forward batches kept for their retry (parked), and of rollback batches. */
  parked_forward: string;
  parked_rollback: string;
  /** The mailstore's advertised account updates/s as a worker last read them (null: never read). */
  mailstore_rate: number | null;
  capabilities_read_at: Date | null;
}

/** Accounts sent in one time bucket of a wave's run, by lane (wave_batches_completed_idx). */
export interface HistoryRow {
  index: number;
  kind: 'forward' | 'rollback';
  accounts: number;
}

/** A wave's times that bound its history. */
export interface HistoryBoundsRow {
  state: WaveState;
  started_at: Date | null;
  completed_at: Date | null;
  rollback_completed_at: Date | null;
  last_batch_at: Date | null;
  now: Date;
}

/** The members of a wave's batches of one lane kept for their retry (its few claimed batches: wave_batches_open_idx). */
function parkedSql(kind: 'forward' | 'rollback'): string {
  return `(SELECT COALESCE(sum(b.size), 0) FROM wave_batches b
            WHERE b.wave_id = w.id AND b.state = 'claimed' AND b.kind = '${kind}' AND b.parked_at IS NOT NULL)`;
}

/** The finished states as an SQL list (constants of libs/domain, not input). */
const FINISHED_SQL = FINISHED_STATES.map((state) => `'${state}'`).join(', ');

/**
 * The reads behind progress, in one statement bounded by indexes: the wave row, its counter rows (wave_counters
 * primary key), the batches completed in the last minute (wave_batches_completed_idx) and those kept for a retry. Never a COUNT over
 * wave_members or accounts. Gate values are the gate evaluator's, stored on the wave row at each evaluation.
 */
export class ProgressRepository {
  byIds(sql: Sql, ids: readonly string[]): Promise<ProgressRow[]> {
    return this.select(sql, 'w.id = ANY($1::uuid[])', [ids]);
  }

  /** Active waves, and those that changed in the last day (drafts excluded). */
  overview(sql: Sql): Promise<ProgressRow[]> {
    return this.select(
      sql,
      `w.state IN ('scheduled', 'running', 'paused', 'halted', 'rolling_back')
       OR (w.state <> 'draft' AND w.updated_at > now() - interval '${OVERVIEW_RECENT_HOURS} hours')`,
      [],
    );
  }

  private select(sql: Sql, where: string, params: unknown[]): Promise<ProgressRow[]> {
    return sql<ProgressRow>(
      `SELECT w.id, w.name, w.state, w.status_reason, w.status_detail, w.protocols, w.rate_per_second,
              w.rollback_rate_per_second, w.steps, w.gates, w.gate_state, w.gate_evaluated_at, w.current_step, w.step_limit_seq, w.bake_until,
              w.start_at, w.started_at, w.completed_at, w.rollback_started_at, w.rollback_completed_at, w.version,
              w.windows, now() AS now, ru.at AS rate_until,
              COALESCE((SELECT jsonb_object_agg(c.name, c.value) FROM wave_counters c WHERE c.wave_id = w.id),
                       '{}'::jsonb) AS counters,
              (SELECT COALESCE(sum(b.size), 0) FROM wave_batches b
                WHERE b.wave_id = w.id AND b.completed_at > ru.at - interval '${RATE_WINDOW_SECONDS} seconds'
                  AND b.kind = CASE WHEN w.state = 'rolling_back' THEN 'rollback' ELSE 'forward' END) AS recent_sent,
              -- a few rows at most (accounts attacked after the wave opened them): login_reclosures' primary key
              (SELECT count(*) FROM login_reclosures r WHERE r.wave_id = w.id)::int AS reclosed,
              ${parkedSql('forward')} AS parked_forward, ${parkedSql('rollback')} AS parked_rollback,
              mc.account_updates_per_second AS mailstore_rate, mc.read_at AS capabilities_read_at
         FROM waves w
         CROSS JOIN LATERAL (
           SELECT CASE WHEN w.state IN (${FINISHED_SQL})
                       THEN LEAST(now(), GREATEST(w.completed_at, w.rollback_completed_at)) ELSE now() END AS at
         ) ru
         LEFT JOIN mailstore_capabilities mc ON mc.id = 1
        WHERE ${where}
        ORDER BY w.created_at DESC, w.id`,
      params,
    );
  }

  /** What bounds a wave's history: its first start, its ends, its newest completed batch (one index probe). */
  async historyBounds(sql: Sql, id: string): Promise<HistoryBoundsRow | undefined> {
    const [row] = await sql<HistoryBoundsRow>(
      `SELECT w.state, w.started_at, w.completed_at, w.rollback_completed_at, now() AS now,
              (SELECT max(b.completed_at) FROM wave_batches b
                WHERE b.wave_id = w.id AND b.completed_at IS NOT NULL) AS last_batch_at
         FROM waves w WHERE w.id = $1`,
      [id],
    );
    return row;
  }

  /**
   * Accounts sent per bucket of `bucketSeconds` from `origin`, by lane: one range scan of the wave's completed batches
   * (wave_batches_completed_idx), one row per bucket and lane. The index carries `kind` and `size`, so once vacuum has
   * marked the settled batches' pages visible the scan never reads the wide batch rows (their members' priors).
   */
  history(sql: Sql, id: string, origin: Date, bucketSeconds: number): Promise<HistoryRow[]> {
    return sql<HistoryRow>(
      `SELECT floor(extract(epoch FROM b.completed_at - $2::timestamptz) / $3)::int AS index, b.kind,
              sum(b.size)::int AS accounts
         FROM wave_batches b
        WHERE b.wave_id = $1 AND b.completed_at IS NOT NULL AND b.completed_at >= $2::timestamptz
        GROUP BY 1, 2 ORDER BY 1, 2`,
      [id, origin, bucketSeconds],
    );
  }
}
