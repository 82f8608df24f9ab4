import { DispatchState, TimeWindows, WaveState } from '@app/domain';
import { Sql } from '../db/sql';

/** A wave the queue should be pumping. */
export interface ActiveWave {
  id: string;
  state: DispatchState;
  generation: number;
  concurrency: number;
}

/** The reads of the reconciler: what PostgreSQL says should be happening (each a small indexed scan). */
export class ReconcileRepository {
  /** Scheduled waves whose start is due. */
  async dueSchedules(sql: Sql): Promise<string[]> {
    const rows = await sql<{ id: string }>(
      `SELECT id FROM waves WHERE state = 'scheduled' AND start_at <= now() ORDER BY start_at`,
    );
    return rows.map((r) => r.id);
  }

  /** Waves paused at a ramp step whose bake is over, with the step they baked. */
  endedBakes(sql: Sql): Promise<{ id: string; current_step: number }[]> {
    return sql<{ id: string; current_step: number }>(
      `SELECT id, current_step FROM waves WHERE state = 'paused' AND status_reason = 'ramp_bake' AND bake_until <= now()`,
    );
  }

  /** Waves whose time windows the service watches: running with windows, or paused waiting for their window. */
  windowedWaves(sql: Sql): Promise<{ id: string; state: WaveState; windows: TimeWindows | null }[]> {
    return sql<{ id: string; state: WaveState; windows: TimeWindows | null }>(
      `SELECT id, state, windows FROM waves
        WHERE (state = 'running' AND windows IS NOT NULL) OR (state = 'paused' AND status_reason = 'outside_window')`,
    );
  }

  /** Waves running or rolling back. */
  activeWaves(sql: Sql): Promise<ActiveWave[]> {
    return sql<ActiveWave>(
      `SELECT id, state, generation, concurrency FROM waves WHERE state IN ('running', 'rolling_back')`,
    );
  }

  /** Running waves whose read-back is due and not done. */
  async dueVerifications(sql: Sql): Promise<string[]> {
    const rows = await sql<{ id: string }>(
      `SELECT id FROM waves WHERE state = 'running' AND verify_due_at <= now() AND (verification->>'done') IS NULL`,
    );
    return rows.map((r) => r.id);
  }

  /** Stopped waves still holding forward batches whose lease expired (their worker died). */
  stoppedWithStaleBatches(sql: Sql): Promise<{ id: string; generation: number }[]> {
    return sql<{ id: string; generation: number }>(
      `SELECT DISTINCT w.id, w.generation FROM waves w JOIN wave_batches b ON b.wave_id = w.id
        WHERE w.state IN ('cancelled', 'rolling_back') AND b.kind = 'forward' AND b.state = 'claimed' AND b.lease_until < now()`,
    );
  }

  /** Support operations queued or running with no news for 10 s (their job was lost). */
  async stalledOperations(sql: Sql): Promise<string[]> {
    const rows = await sql<{ id: string }>(
      `SELECT id FROM operations WHERE state IN ('queued', 'running') AND updated_at < now() - interval '10 seconds'`,
    );
    return rows.map((r) => r.id);
  }
}
