import { DataSource } from 'typeorm';
import { dispatchedKind, DispatchState } from '@app/domain';
import { QueueProducer } from '@app/queue';
import { WaveCommandsService } from '../waves/wave-commands.service';
import { WaveVerifier } from './wave-verifier';

export interface ReconcileReport {
  firedSchedules: number;
  endedBakes: number;
  pumpedWaves: number;
  requeuedOperations: number;
}

/**
 * The safety net behind every queue job: PostgreSQL says what should be happening, and the queue is made to
 * match (same job ids, so nothing runs twice). Covers a scheduler that was down at the due time, a Redis that
 * lost everything, jobs that failed past their attempts, and a worker killed mid-job. Idempotent; run it often.
 */
export class Reconciler {
  constructor(
    private readonly dataSource: DataSource,
    private readonly producer: QueueProducer,
    private readonly commands: WaveCommandsService,
    private readonly verifier?: WaveVerifier,
  ) {}

  async run(): Promise<ReconcileReport> {
    const report: ReconcileReport = { firedSchedules: 0, endedBakes: 0, pumpedWaves: 0, requeuedOperations: 0 };
    const due = await this.dataSource.query<{ id: string }[]>(
      `SELECT id FROM waves WHERE state = 'scheduled' AND start_at <= now() ORDER BY start_at`,
    );
    for (const w of due) if (await this.commands.fireSchedule(w.id)) report.firedSchedules++;

    const baked = await this.dataSource.query<{ id: string; current_step: number }[]>(
      `SELECT id, current_step FROM waves WHERE state = 'paused' AND status_reason = 'ramp_bake' AND bake_until <= now()`,
    );
    for (const w of baked) if (await this.commands.endBake(w.id, w.current_step)) report.endedBakes++;

    const active = await this.dataSource.query<
      { id: string; state: DispatchState; generation: number; concurrency: number }[]
    >(`SELECT id, state, generation, concurrency FROM waves WHERE state IN ('running', 'rolling_back')`);
    for (const w of active) {
      await this.commands.addPumps(w.id, dispatchedKind(w.state), w.generation, w.concurrency);
      report.pumpedWaves++;
    }

    if (this.verifier) {
      const due = await this.dataSource.query<{ id: string }[]>(
        `SELECT id FROM waves WHERE state = 'running' AND verify_due_at <= now() AND (verification->>'done') IS NULL`,
      );
      for (const w of due) await this.verifier.verify(w.id);
    }

    // Stopped waves still holding forward batches whose worker died: a forward pump finishes them (same key).
    const leftovers = await this.dataSource.query<{ id: string; generation: number }[]>(
      `SELECT DISTINCT w.id, w.generation FROM waves w JOIN wave_batches b ON b.wave_id = w.id
        WHERE w.state IN ('cancelled', 'rolling_back') AND b.kind = 'forward' AND b.state = 'claimed' AND b.lease_until < now()`,
    );
    for (const w of leftovers) await this.commands.addPumps(w.id, 'forward', w.generation, 1);

    const ops = await this.dataSource.query<{ id: string }[]>(
      `SELECT id FROM operations WHERE state IN ('queued', 'running') AND updated_at < now() - interval '10 seconds'`,
    );
    for (const o of ops) {
      await this.producer.addOperation(o.id);
      report.requeuedOperations++;
    }
    return report;
  }
}
