import { BatchKind } from '@app/domain';
import { ClaimedBatch, WaveRuntime } from './batch.types';
import { BatchSender } from './batch-sender';
import { PumpContext } from './pump-context';
import { PumpHolds } from './pump-holds';
import { batchSizeFor, paceRequestFor } from './pump-pace';
import { Sql } from '../db/sql';
import { ReserveRequest, sleepUntil } from './throttle';

/** How often a pump looks for batches whose lease expired (each pump; the lease itself is much longer). */
export const STALE_CHECK_INTERVAL_MS = 1000;

/** A pump's next batch, and whether its pace slot has come already. */
export type NextBatch = { batch: ClaimedBatch; paced: boolean } | 'drained' | 'stopped';

/**
 * One pump's way to its next batch: one whose lease expired (taken over, sent again as claimed), else a fresh claim
 * made once the pace slot for a full batch is booked (at most the horizon ahead), so a pump never holds members
 * through a long pace wait.
 */
export class PumpClaims {
  /** Highest seq this pump has claimed: its next claim starts the index scan there. */
  private floor = 0;
  /** When this pump next looks for a batch whose lease expired. */
  private nextStaleCheckAt = 0;

  constructor(
    private readonly ctx: PumpContext,
    private readonly kind: BatchKind,
    private readonly workerId: string,
    private readonly holds: PumpHolds,
    private readonly sender: BatchSender,
  ) {}

  /** `stillRunning`: asked while the pace slot is awaited; false stops the wait. */
  async next(sql: Sql, wave: WaveRuntime, stillRunning: () => Promise<boolean>): Promise<NextBatch> {
    const stale = await this.takeOverStale(sql, wave.id);
    if (stale) return { batch: stale, paced: false };
    // The slot is booked first (at most the throttle's horizon, 250 ms, ahead: far less than a lease); the batch is
    // claimed while it comes, so only the permit stands between the slot and the call. Sized and paced by the
    // capabilities as last read, at every re-ask (a lower rate or burst read meanwhile applies to this batch): the
    // claim takes what the last re-ask booked.
    let pace = this.paceFor(wave);
    const slotAt = await this.ctx.throttle.book(() => (pace = this.paceFor(wave)), stillRunning);
    if (slotAt === null) return 'stopped';
    const batch = (await this.claimFromFloor(sql, wave, pace.cost)) ?? (await this.takeOverStale(sql, wave.id, true));
    if (!batch) return 'drained';
    await sleepUntil(slotAt);
    return { batch, paced: true };
  }

  /** A full batch's pace request, by the mailstore's capabilities as last read. */
  private paceFor(wave: WaveRuntime): ReserveRequest {
    const caps = this.ctx.client.cachedCapabilities();
    const size = batchSizeFor(wave, this.kind, this.ctx.capabilities.batchLimit());
    return paceRequestFor(wave, this.kind, size, caps?.rateLimits.accountUpdatesPerSecond);
  }

  /** Takes over one batch of this lane whose lease expired, if any (no check interval: resolving leftovers). */
  async takeOver(sql: Sql, waveId: string): Promise<ClaimedBatch | null> {
    const { lease } = this.ctx.repos;
    const batch = await lease.takeOverStale(sql, waveId, this.kind, this.workerId, this.ctx.settings.leaseMs);
    if (batch) this.holds.leaseRenewed();
    return batch;
  }

  /**
   * A batch whose lease expired (its worker died or stalled), taken over and rebuilt as claimed. Looked for at
   * most once a second per pump (a lease lasts many seconds, so this adds at most a second to a takeover), and
   * always before the pump reports the wave drained (`force`).
   */
  private async takeOverStale(sql: Sql, waveId: string, force = false): Promise<ClaimedBatch | null> {
    const now = Date.now();
    if (!force && now < this.nextStaleCheckAt) return null;
    this.nextStaleCheckAt = now + STALE_CHECK_INTERVAL_MS;
    return this.takeOver(sql, waveId);
  }

  /**
   * Claims from the floor; members below it can be claimable again only after another pump released a batch: when
   * nothing is found above it, looks once from the start.
   */
  private async claimFromFloor(sql: Sql, wave: WaveRuntime, size: number): Promise<ClaimedBatch | null> {
    let batch = await this.claim(sql, wave, size, this.floor);
    if (!batch && this.floor > 0) {
      this.floor = 0;
      batch = await this.claim(sql, wave, size, 0);
    }
    if (batch) this.holds.leaseRenewed();
    return batch;
  }

  private async claim(sql: Sql, wave: WaveRuntime, size: number, floor: number): Promise<ClaimedBatch | null> {
    const { forward, rollback } = this.ctx.repos;
    const leaseMs = this.ctx.settings.leaseMs;
    if (this.kind === 'rollback') {
      const batch = await rollback.claim(sql, wave.id, size, this.workerId, leaseMs, floor);
      if (batch) this.floor = batch.members[batch.members.length - 1].seq;
      return batch;
    }
    const result = await forward.claim(sql, wave, size, this.workerId, leaseMs, floor);
    if (result.batch) {
      this.floor = result.lastSeq;
      this.sender.claimed(result.batch.id, result.accounts);
    }
    return result.batch;
  }
}
