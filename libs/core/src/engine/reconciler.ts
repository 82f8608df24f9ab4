import { DataSource } from 'typeorm';
import { dispatchedKind } from '@app/domain';
import { QueueProducer } from '@app/queue';
import { WaveCommandsService } from '../waves/wave-commands.service';
import { windowAllowsSending } from '../waves/wave-command-plan';
import { ReconcileRepository } from './reconcile.repository';
import { WaveVerifier } from './wave-verifier';
import { Sql, sqlOfDataSource } from '../db/sql';

export interface ReconcileReport {
  firedSchedules: number;
  endedBakes: number;
  /** Waves paused because their window closed, or resumed because it opened (their edge job was lost or late). */
  windowsClosed: number;
  windowsOpened: number;
  pumpedWaves: number;
  requeuedOperations: number;
}

/**
 * The safety net behind every queue job: PostgreSQL says what should be happening, and the queue is made to
 * match (same job ids, so nothing runs twice). Covers a scheduler that was down at the due time, a Redis that
 * lost everything, jobs that failed past their attempts, and a worker killed mid-job. Idempotent; run it often.
 */
export class Reconciler {
  private readonly sql: Sql;

  constructor(
    dataSource: DataSource,
    private readonly producer: QueueProducer,
    private readonly commands: WaveCommandsService,
    private readonly verifier?: WaveVerifier,
    private readonly repo = new ReconcileRepository(),
  ) {
    this.sql = sqlOfDataSource(dataSource);
  }

  async run(): Promise<ReconcileReport> {
    const report: ReconcileReport = {
      firedSchedules: 0,
      endedBakes: 0,
      windowsClosed: 0,
      windowsOpened: 0,
      pumpedWaves: 0,
      requeuedOperations: 0,
    };
    // One wave whose step fails (a bug, a value its row cannot hold) must not stop the round for every other wave: each
    // step runs, and the round fails at its end with the first failure (logged, counted), so it is still seen.
    const failures: unknown[] = [];
    const each = async (work: () => Promise<unknown>) => {
      try {
        await work();
      } catch (err) {
        failures.push(err);
      }
    };

    for (const id of await this.repo.dueSchedules(this.sql))
      await each(async () => {
        if (await this.commands.fireSchedule(id)) report.firedSchedules++;
      });

    for (const w of await this.repo.endedBakes(this.sql)) {
      await each(async () => {
        if (await this.commands.endBake(w.id, w.current_step)) report.endedBakes++;
      });
    }

    // Judged here first (pure, on the commands' clock) so that a wave inside its window costs no lock per round.
    for (const w of await this.repo.windowedWaves(this.sql)) {
      const open = windowAllowsSending(w.windows, this.commands.clock());
      await each(async () => {
        if (w.state === 'running' && !open && (await this.commands.closeWindow(w.id))) report.windowsClosed++;
        if (w.state === 'paused' && open && (await this.commands.openWindow(w.id))) report.windowsOpened++;
      });
    }

    for (const w of await this.repo.activeWaves(this.sql)) {
      await each(async () => {
        await this.commands.addPumps(w.id, dispatchedKind(w.state), w.generation, w.concurrency);
        report.pumpedWaves++;
      });
    }

    if (this.verifier) {
      const verifier = this.verifier;
      for (const id of await this.repo.dueVerifications(this.sql)) await each(() => verifier.verify(id));
    }

    // Stopped waves still holding forward batches whose worker died: a forward pump finishes them (same key).
    for (const w of await this.repo.stoppedWithStaleBatches(this.sql)) {
      await each(() => this.commands.addPumps(w.id, 'forward', w.generation, 1));
    }

    for (const id of await this.repo.stalledOperations(this.sql)) {
      await each(async () => {
        await this.producer.addOperation(id);
        report.requeuedOperations++;
      });
    }
    if (failures.length) throw failures[0];
    return report;
  }
}
