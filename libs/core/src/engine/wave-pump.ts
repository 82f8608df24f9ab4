import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { DISPATCH_STATES, nextWindowTransition, WaveState, WINDOW_CLOSE_LEAD_MS } from '@app/domain';
import { WavePumpJob } from '@app/queue';
import { WaveRuntime } from './batch.types';
import { BatchDelivery, PumpOutcome } from './batch-delivery';
import { BatchPermits } from './batch-permits';
import { BatchSender } from './batch-sender';
import { PumpClaims, STALE_CHECK_INTERVAL_MS } from './pump-claims';
import { PumpContext } from './pump-context';
import { onPumpDrained } from './pump-drained';
import { PumpHolds } from './pump-holds';
import { RESOLVING_STATES } from './pump-pace';
import { Sql, sqlOf } from '../db/sql';
import { windowAllowsSending } from '../waves/wave-command-plan';
import { sleep } from './throttle';

export type { PumpOutcome } from './batch-delivery';

/**
 * One concurrency slot of a wave: books its slot in the global pace (at most 250 ms ahead), claims a batch while
 * the slot comes (PumpClaims), has its BatchDelivery take the batch's send permit (state, ownership and every
 * eligibility rule checked in the statement that commits the attempt), start the call within the permit's window and
 * write the answer, and goes on until the wave is drained, stopped, or a newer generation took over. It returns an
 * outcome; it throws only to be retried.
 *
 * It holds a fresh batch only from its booked slot's horizon on (so no pace wait can outlast a lease), keeps the
 * lease alive through every other wait, and every write it makes for a batch names the lease generation it holds:
 * a pump that lost its batch (frozen, starved) changes nothing and learns it with BatchLostError.
 */
export class WavePump {
  /** This pump's concurrency slot (a lease in PostgreSQL: one pump per slot, whatever the queue does) and batch lease. */
  private readonly holds: PumpHolds;
  private readonly claims: PumpClaims;
  private readonly delivery: BatchDelivery;
  private readonly wantedState: WaveState;
  /** The windows last found open, and until when (checked before every batch; judged again only past that). */
  private openWindow: { windows: string; until: number } | null = null;
  /** A pace wait ended because the wave's window closed. */
  private windowClosed = false;

  constructor(
    private readonly ctx: PumpContext,
    private readonly job: WavePumpJob,
    jobId: string,
    private readonly signal?: AbortSignal,
  ) {
    // Unique per pump run (the same job may run twice in one process after its lock was lost): it names the
    // holder of the slot and of every batch this pump claims.
    const workerId = `${hostname()}/${process.pid}/${jobId}/${randomBytes(4).toString('hex')}`;
    const { settings, repos } = ctx;
    this.wantedState = DISPATCH_STATES[job.kind];
    this.holds = new PumpHolds(
      { waveId: job.waveId, kind: job.kind, slot: job.slot, holder: workerId },
      settings.leaseMs,
      repos,
    );
    const permits = new BatchPermits(repos.permits, settings.incidentAt);
    const sender = new BatchSender(ctx.client, ctx.throttle, this.holds, permits, job.kind, settings);
    this.claims = new PumpClaims(ctx, job.kind, workerId, this.holds, sender);
    this.delivery = new BatchDelivery(ctx, job.kind, this.holds, sender, (sql) => this.loadWave(sql));
  }

  async run(): Promise<PumpOutcome> {
    const runner = this.ctx.dataSource.createQueryRunner();
    await runner.connect();
    try {
      const sql = sqlOf(runner);
      const held = await this.holdSlot(sql);
      return held === 'held' ? await this.pump(sql) : held;
    } finally {
      // Best effort: if the connection is gone, the slot's lease expires by itself.
      await this.holds.releaseSlot(sqlOf(runner)).catch(() => undefined);
      await runner.release();
    }
  }

  /** Batch after batch, the wave read fresh before each (rate, batch size and state may change). */
  private async pump(sql: Sql): Promise<PumpOutcome> {
    for (;;) {
      if (this.signal?.aborted) return 'stopped';
      if (!(await this.holds.keepSlot(sql))) return 'superseded';
      const wave = await this.loadWave(sql);
      if (!wave) return 'stopped';
      if (wave.generation !== this.job.generation) return 'superseded';
      if (wave.state !== this.wantedState) return await this.resolveLeftovers(sql, wave);
      // Outside its time windows a wave claims nothing: it pauses (a batch in flight has settled above).
      if (this.outsideWindow(wave)) return this.pauseOutsideWindow(wave.id);
      const next = await this.claims.next(sql, wave, () => this.stillRunning(sql));
      if (next === 'drained') {
        if (this.job.kind === 'rollback' && (await this.awaitWaiting(sql))) continue;
        // Nothing left to claim for this pump: finish the wave, or pause it at a ramp step boundary.
        await onPumpDrained(sql, this.ctx, wave, this.job.kind);
        return 'drained';
      }
      if (next === 'stopped') return this.windowClosed ? this.pauseOutsideWindow(wave.id) : 'stopped';
      const result = await this.delivery.deliver(sql, wave, next.batch, next.paced);
      if (result !== 'settled') return result;
    }
  }

  /**
   * A rollback whose members left all wait for another writer of ours (a conflict sent back, libs/domain
   * requeueDelayMs) is not drained: the pump waits until the first of them may be claimed (its slot kept, the wave
   * checked every second; the loop then sees a stop) and claims again. False when none waits.
   */
  private async awaitWaiting(sql: Sql): Promise<boolean> {
    const ms = await this.ctx.repos.rollback.nextDueInMs(sql, this.job.waveId);
    if (ms === null) return false;
    const until = Date.now() + ms;
    for (let left = ms; left > 0; left = until - Date.now()) {
      if (!(await this.stillRunning(sql))) return true;
      await sleep(Math.min(left, STALE_CHECK_INTERVAL_MS));
    }
    return true;
  }

  /**
   * Waits until this pump holds its slot: another pump of the same slot (a job added again after a Redis wipe, a
   * frozen worker's) may still run it; the slot is free when that one exits or its lease expires.
   */
  private async holdSlot(sql: Sql): Promise<'held' | 'stopped' | 'superseded'> {
    for (;;) {
      if (this.signal?.aborted) return 'stopped';
      const busyMs = await this.holds.takeSlot(sql);
      if (busyMs === 0) return 'held';
      const wave = await this.loadWave(sql);
      if (!wave) return 'stopped';
      if (wave.generation !== this.job.generation) return 'superseded';
      if (wave.state !== this.wantedState && !RESOLVING_STATES.includes(wave.state)) return 'stopped';
      await sleep(Math.min(busyMs, STALE_CHECK_INTERVAL_MS));
    }
  }

  /**
   * A cancelled or rolling-back wave may still hold forward batches that reached the mailstore with an unknown
   * outcome (timeout, reset). Each is finished with its own idempotency key, so every account ends in one
   * terminal outcome: the replay returns the stored answer, or applies exactly what was asked before the stop
   * (and a rollback then restores it). No new batch is ever claimed here.
   */
  private async resolveLeftovers(sql: Sql, wave: WaveRuntime): Promise<PumpOutcome> {
    if (this.job.kind !== 'forward' || !RESOLVING_STATES.includes(wave.state)) return 'stopped';
    for (;;) {
      const batch = await this.claims.takeOver(sql, wave.id);
      if (!batch) return 'stopped';
      const result = await this.delivery.deliver(sql, wave, batch, false);
      if (result !== 'settled') return result;
    }
  }

  /**
   * Whether a forward pump must not start a batch now: the wave's window is closed, or closes within the lead a batch
   * needs to start its call (windowAllowsSending, the commands' own rule). Rollbacks restore access as fast as they
   * can, windows or not.
   */
  private outsideWindow(wave: WaveRuntime): boolean {
    if (this.job.kind !== 'forward' || wave.windows === null) return false;
    const now = this.ctx.commands.clock();
    const key = JSON.stringify(wave.windows);
    if (this.openWindow?.windows === key && now.getTime() < this.openWindow.until) return false;
    if (!windowAllowsSending(wave.windows, now)) return true;
    const closes = nextWindowTransition(wave.windows, now)?.getTime() ?? Number.POSITIVE_INFINITY;
    this.openWindow = { windows: key, until: closes - WINDOW_CLOSE_LEAD_MS };
    return false;
  }

  private async pauseOutsideWindow(waveId: string): Promise<PumpOutcome> {
    await this.ctx.commands.closeWindow(waveId);
    return 'paused_outside_window';
  }

  private loadWave(sql: Sql): Promise<WaveRuntime | null> {
    return this.ctx.repos.runtime.load(sql, this.job.waveId);
  }

  private async stillRunning(sql: Sql): Promise<boolean> {
    if (this.signal?.aborted || !(await this.holds.keepSlot(sql))) return false;
    const wave = await this.loadWave(sql);
    if (wave && this.outsideWindow(wave)) {
      this.windowClosed = true;
      return false;
    }
    return wave?.state === this.wantedState && wave.generation === this.job.generation;
  }
}
