import { Protocol, TimeWindows, WaveState } from '@app/domain';
import { WaveRuntime } from './batch.types';
import { Sql } from '../db/sql';

/** What a forward pump that found nothing to claim needs to decide: finish the wave, end a ramp step, or wait. */
export interface DrainState {
  currentStep: number;
  steps: { percent: number; bakeSeconds: number }[];
  /** Members in batches not yet settled (the counter). */
  inFlight: number;
  /** Pending members within the current ramp step's limit. */
  pendingInStep: boolean;
  pendingAny: boolean;
}

/** The statements that read a wave for its pumps (each read is one statement, one snapshot). */
export class WaveRuntimeRepository {
  /** What a pump needs of its wave, read fresh before every batch (rate, batch size and state may change). */
  async load(sql: Sql, waveId: string): Promise<WaveRuntime | null> {
    const [w] = await sql<{
      state: WaveState;
      protocols: Protocol[];
      rate_per_second: number;
      rollback_rate_per_second: number;
      batch_size: number;
      concurrency: number;
      step_limit_seq: number | null;
      generation: number;
      status_reason: string | null;
      windows: TimeWindows | null;
    }>(
      `SELECT state, protocols, rate_per_second, rollback_rate_per_second, batch_size, concurrency, step_limit_seq,
              generation, status_reason, windows FROM waves WHERE id = $1`,
      [waveId],
    );
    if (!w) return null;
    return {
      id: waveId,
      state: w.state,
      protocols: w.protocols,
      ratePerSecond: w.rate_per_second,
      rollbackRatePerSecond: w.rollback_rate_per_second,
      batchSize: w.batch_size,
      concurrency: w.concurrency,
      stepLimitSeq: w.step_limit_seq,
      generation: w.generation,
      statusReason: w.status_reason,
      windows: w.windows,
    };
  }

  /** A wave's counters by name (one small indexed read; progress never counts members). */
  async counters(sql: Sql, waveId: string): Promise<Record<string, number>> {
    const rows = await sql<{ name: string; value: string }>(
      `SELECT name, value FROM wave_counters WHERE wave_id = $1`,
      [waveId],
    );
    return Object.fromEntries(rows.map((r) => [r.name, Number(r.value)]));
  }

  /**
   * One statement, so one snapshot: another pump's claim is either committed (its members count as in flight) or
   * not (they still read as pending). Read apart, a claim committing between the counter and the pending check
   * would look like neither, and end a ramp step while its last batch was still on its way.
   */
  async drainState(sql: Sql, waveId: string): Promise<DrainState | null> {
    const [w] = await sql<{
      current_step: number;
      steps: { percent: number; bakeSeconds: number }[];
      in_flight: number;
      in_step: boolean;
      any: boolean;
    }>(
      `SELECT current_step, steps,
              COALESCE((SELECT value FROM wave_counters WHERE wave_id = $1 AND name = 'in_flight'), 0)::int AS in_flight,
              EXISTS (SELECT 1 FROM wave_members WHERE wave_id = $1 AND state = 'pending' AND seq <= COALESCE(step_limit_seq, 2147483647)) AS in_step,
              EXISTS (SELECT 1 FROM wave_members WHERE wave_id = $1 AND state = 'pending') AS any
         FROM waves WHERE id = $1`,
      [waveId],
    );
    if (!w) return null;
    return {
      currentStep: w.current_step,
      steps: w.steps,
      inFlight: w.in_flight,
      pendingInStep: w.in_step,
      pendingAny: w.any,
    };
  }
}
