import { Protocol } from '@app/domain';
import { WaveRuntime } from './batch.types';
import { Sql } from './sql';

/** What a pump needs of its wave, read fresh before every batch (rate, batch size and state may change). */
export async function loadWaveRuntime(sql: Sql, waveId: string): Promise<WaveRuntime | null> {
  const [w] = await sql<{
    state: string;
    protocols: Protocol[];
    rate_per_second: number;
    rollback_rate_per_second: number;
    batch_size: number;
    concurrency: number;
    step_limit_seq: number | null;
    generation: number;
    status_reason: string | null;
  }>(
    `SELECT state, protocols, rate_per_second, rollback_rate_per_second, batch_size, concurrency, step_limit_seq,
            generation, status_reason FROM waves WHERE id = $1`,
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
  };
}

/** A wave's counters by name (one small indexed read; progress never counts members). */
export async function readCounters(sql: Sql, waveId: string): Promise<Record<string, number>> {
  const rows = await sql<{ name: string; value: string }>(`SELECT name, value FROM wave_counters WHERE wave_id = $1`, [
    waveId,
  ]);
  return Object.fromEntries(rows.map((r) => [r.name, Number(r.value)]));
}
