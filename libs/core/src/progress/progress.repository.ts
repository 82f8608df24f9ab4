import { Counters, RampStep, TimeWindows, WaveState } from '@app/domain';
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
  reclosed: number;
  /** Members of forward batches kept for their retry (parked), and of rollback batches. */
  parked_forward: string;
  parked_rollback: string;
}

/** The members of a wave's batches of one lane kept for their retry (its few claimed batches: wave_batches_open_idx). */
function parkedSql(kind: 'forward' | 'rollback'): string {
  return `(SELECT COALESCE(sum(b.size), 0) FROM wave_batches b
            WHERE b.wave_id = w.id AND b.state = 'claimed' AND b.kind = '${kind}' AND b.parked_at IS NOT NULL)`;
}

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
              w.windows, now() AS now,
              COALESCE((SELECT jsonb_object_agg(c.name, c.value) FROM wave_counters c WHERE c.wave_id = w.id),
                       '{}'::jsonb) AS counters,
              (SELECT COALESCE(sum(b.size), 0) FROM wave_batches b
                WHERE b.wave_id = w.id AND b.completed_at > now() - interval '${RATE_WINDOW_SECONDS} seconds'
                  AND b.kind = CASE WHEN w.state = 'rolling_back' THEN 'rollback' ELSE 'forward' END) AS recent_sent,
              -- a few rows at most (accounts attacked after the wave opened them): login_reclosures' primary key
              (SELECT count(*) FROM login_reclosures r WHERE r.wave_id = w.id)::int AS reclosed,
              ${parkedSql('forward')} AS parked_forward, ${parkedSql('rollback')} AS parked_rollback
         FROM waves w
        WHERE ${where}
        ORDER BY w.created_at DESC, w.id`,
      params,
    );
  }
}
