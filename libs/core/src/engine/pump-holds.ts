import { BatchLostError, ClaimedBatch } from './batch.types';
import { BatchLeaseRepository } from './batch-lease.repository';
import { PumpSlot, PumpSlotRepository } from './pump-slot.repository';
import { Sql } from '../db/sql';
import { sleep } from './throttle';

/**
 * What one pump holds, and keeps alive while it works: its concurrency slot (one pump per slot) and the lease of
 * the batch in hand. Each is renewed once half of its lease has gone, or past a wait about to start (Retry-After,
 * backoff). Renewals are fenced: a lost slot answers false, a lost batch throws BatchLostError.
 */
export class PumpHolds {
  private renewSlotAt = 0;
  private renewLeaseAt = 0;

  constructor(
    private readonly slot: PumpSlot,
    private readonly leaseMs: number,
    private readonly repos: { slots: PumpSlotRepository; lease: BatchLeaseRepository },
  ) {}

  /** Takes the slot if it is free, expired or ours: 0, else how long its holder's lease still runs (ms). */
  async takeSlot(sql: Sql): Promise<number> {
    const busyMs = await this.repos.slots.hold(sql, this.slot, this.leaseMs);
    if (busyMs === 0) this.renewSlotAt = Date.now() + this.leaseMs / 2;
    return busyMs;
  }

  /** Keeps the slot's lease alive (past `extraMs` of a coming wait); false if another pump took the slot. */
  async keepSlot(sql: Sql, extraMs = 0): Promise<boolean> {
    if (extraMs === 0 && Date.now() < this.renewSlotAt) return true;
    if (!(await this.repos.slots.renew(sql, this.slot, this.leaseMs + extraMs))) return false;
    this.renewSlotAt = Date.now() + extraMs + this.leaseMs / 2;
    return true;
  }

  /** Frees the slot at once for the next pump (only if still ours). */
  releaseSlot(sql: Sql): Promise<void> {
    return this.repos.slots.release(sql, this.slot);
  }

  /** The batch in hand got a fresh lease (claim, takeover, permit) lasting `extraMs` more than usual. */
  leaseRenewed(extraMs = 0): void {
    this.renewLeaseAt = Date.now() + extraMs + this.leaseMs / 2;
  }

  /** Keeps the batch in hand ours through a wait: renewed once half of its lease has gone. */
  async keepLease(sql: Sql, batch: ClaimedBatch): Promise<void> {
    if (Date.now() < this.renewLeaseAt) return;
    await this.extendLease(sql, batch, this.leaseMs);
    this.leaseRenewed();
  }

  /** Extends the slot and the batch's lease past a wait of `ms` about to start. */
  async coverWait(sql: Sql, batch: ClaimedBatch, ms: number): Promise<void> {
    await this.keepSlot(sql, ms);
    await this.extendLease(sql, batch, this.leaseMs + ms);
    this.leaseRenewed(ms);
  }

  /** Waits `ms` with the batch in hand, both leases extended past the wait first. */
  async waitHolding(sql: Sql, batch: ClaimedBatch, ms: number): Promise<void> {
    await this.coverWait(sql, batch, ms);
    await sleep(ms);
  }

  private async extendLease(sql: Sql, batch: ClaimedBatch, ms: number): Promise<void> {
    if (!(await this.repos.lease.extendLease(sql, batch, ms))) throw new BatchLostError(batch.id);
  }
}
