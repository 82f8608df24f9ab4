import { BatchKind, Protocol } from '@app/domain';
import { BatchItem, BatchResult, Mailstore, Outcome } from '@app/mailstore';
import { inSpan, tracingOn } from '@app/tracing';
import { buildRequest, ClaimedBatch, EligibilityRow } from './batch.types';
import { BatchPermits } from './batch-permits';
import { PermitResult } from './permit-decision';
import { PumpHolds } from './pump-holds';
import { PermitTimes } from './send-permit.repository';
import { Sql } from '../db/sql';
import { ReserveRequest, Throttle } from './throttle';

/**
 * Kept out of the send window: what the event loop may still take between the last clock reading and the request
 * leaving (building the body, the socket write), and the request's way to the mailstore, so that a call written at the
 * end of its window has arrived when a pause that waited for that window answers. 10 ms was seen short on a loaded
 * 2-core machine (a call reached the simulator after the pause answered: wave-integrity's frozen-worker test); a
 * quarter of the 200 ms window leaves 150 ms to send in, and a pause still answers within the window.
 */
const SEND_MARGIN_MS = 50;

export type SendResult =
  | Exclude<PermitResult, 'granted'>
  | 'late'
  | {
      outcome: Outcome<BatchResult>;
      startedAt: Date;
      /** Whether the batch was in doubt before this attempt (what an answer that applied nothing brings back). */
      inDoubtBefore: boolean;
      /** The items sent, item i for member i (what an answer is read against). */
      items: BatchItem[];
    };

/** What a pump tells its sender about the batch being sent. */
export interface SendContext {
  wave: { id: string; protocols: Protocol[]; generation: number };
  /** Wave states in which this attempt may be sent. */
  allowedStates: string[];
  /** The pace this batch was booked under (skipped members' share is given back to it). */
  pace: ReserveRequest;
}

/**
 * One pump's way from a claimed batch to a call on the wire: takes the batch's send permit, then starts the call
 * inside the permit's window. The window is counted from before the permit's statement was sent (its deadline
 * counts from the statement's start, which is later), so a call started within it starts before the deadline
 * that commands wait for. A sender that finds the window gone (its process was frozen or starved after the
 * permit) withdraws the attempt and never starts that call; the HTTP client checks the window again right before
 * it writes the request.
 */
export class BatchSender {
  /** The accounts of the batch just claimed, as the claim read them (for its first permit). */
  private claimRead: { batchId: number; accounts: EligibilityRow[] } | null = null;
  /** A pace refund under way (see firstPermit). */
  private refunding: Promise<void> = Promise.resolve();

  constructor(
    private readonly client: Mailstore,
    private readonly throttle: Throttle,
    private readonly holds: PumpHolds,
    private readonly permits: BatchPermits,
    private readonly kind: BatchKind,
    private readonly settings: { sendWindowMs: number; leaseMs: number },
  ) {}

  /** The claim's read of a batch's accounts: its first permit decides on it (under the epoch check). */
  claimed(batchId: number, accounts: EligibilityRow[]): void {
    this.claimRead = { batchId, accounts };
  }

  async send(sql: Sql, batch: ClaimedBatch, ctx: SendContext): Promise<SendResult> {
    const times = { leaseMs: this.settings.leaseMs, windowMs: this.settings.sendWindowMs };
    const askedAt = performance.now();
    // A forward batch no earlier attempt of which may have applied anything is decided again (a hold since a 503
    // keeps the account out); one in doubt is resent as it was, under its key.
    const inDoubtBefore = batch.inDoubt;
    const permit =
      this.kind === 'forward' && (batch.attempts === 0 || !batch.inDoubt)
        ? await this.firstPermit(sql, batch, ctx, times)
        : await this.permits.attempt(
            sql,
            batch,
            { generation: ctx.wave.generation, allowedStates: ctx.allowedStates },
            times,
          );
    if (permit !== 'granted') {
      await this.refunding;
      return permit;
    }
    this.holds.leaseRenewed();
    const { items, options } = buildRequest(this.kind, ctx.wave.id, ctx.wave.protocols, batch.members);
    const sendBy = askedAt + this.settings.sendWindowMs - SEND_MARGIN_MS;
    if (performance.now() > sendBy) {
      await this.refunding;
      await this.permits.withdraw(sql, batch, inDoubtBefore);
      return 'late';
    }
    const startedAt = new Date();
    // The attempt under this key: #1 first, #2… for its retries (a key decided again starts at #1).
    const requestId = `${batch.idempotencyKey}#${batch.attempts - batch.keySince}`;
    // In doubt: a driver that keeps nothing per key redoes what an earlier attempt may have left undone (its kicks).
    const callOpts = { idempotencyKey: batch.idempotencyKey, requestId, sendBy, inDoubt: inDoubtBefore };
    const call = () => this.client.batch(items, options, callOpts);
    // With tracing on, one span per attempt, whatever the driver (the HTTP driver's call is its child).
    const outcome = !tracingOn()
      ? await call()
      : await inSpan(
          `batch ${this.kind}`,
          {
            attributes: {
              'reopen.wave.id': ctx.wave.id,
              'reopen.batch.id': batch.id,
              'reopen.batch.kind': this.kind,
              'reopen.batch.members': batch.members.length,
              'reopen.idempotency_key': batch.idempotencyKey,
              'reopen.request_id': requestId,
            },
          },
          async (span) => {
            const o = await call();
            span?.setAttribute('reopen.outcome', o.kind);
            return o;
          },
        );
    await this.refunding;
    if (outcome.kind === 'retryable' && outcome.code === 'send_window_missed') {
      await this.permits.withdraw(sql, batch, inDoubtBefore);
      return 'late';
    }
    return { outcome, startedAt, inDoubtBefore, items };
  }

  /**
   * The first permit of a forward batch. The pace booked for the members it skips is given back (started here,
   * awaited after the call has started: it must not eat into the send window).
   */
  private async firstPermit(
    sql: Sql,
    batch: ClaimedBatch,
    ctx: SendContext,
    times: PermitTimes,
  ): Promise<PermitResult> {
    const booked = batch.members.length;
    // The claim's read serves once: after a refused permit (changed, busy) the accounts are read again.
    const read = this.claimRead?.batchId === batch.id ? this.claimRead.accounts : undefined;
    this.claimRead = null;
    const permit = await this.permits.first(sql, batch, ctx.wave, times, read);
    if ((permit === 'granted' || permit === 'nothing_to_send') && batch.members.length < booked) {
      this.refunding = this.throttle.refund({ ...ctx.pace, cost: booked - batch.members.length });
    }
    return permit;
  }
}
