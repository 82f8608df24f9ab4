import { assertNever, BatchKind, backoffMs, retryAfterWithJitter, UNDECIDED_OTHER_WRITER } from '@app/domain';
import {
  AccessState,
  BatchItemResult,
  BatchResult,
  OkOutcome,
  PermanentOutcome,
  RetryableOutcome,
} from '@app/mailstore';
import { BatchLostError, ClaimedBatch, WaveRuntime } from './batch.types';
import { BatchSender, SendResult } from './batch-sender';
import { callRecord, CallRecord } from './call-record';
import { BatchEnd } from './engine-metrics';
import { forwardSettlement, refusalOfItsAccount, rollbackSettlement } from './member-outcome';
import { readBackAnswer, toldByReads } from './resent-answer';
import { Reask } from './rollback-conflicts';
import { AnswerWriters } from './answer-writers';
import { PumpContext } from './pump-context';
import { PumpHolds } from './pump-holds';
import { allowedStatesFor, paceRequestFor } from './pump-pace';
import { Sql } from '../db/sql';
import { ReserveRequest, sleep } from './throttle';

export type PumpOutcome =
  'drained' | 'stopped' | 'superseded' | 'paused_unreachable' | 'paused_unauthorized' | 'paused_outside_window';

/** How a delivery ended: its batch is done with (`settled`: answered, refused, skipped or lost), or the pump stops. */
export type Delivered = 'settled' | PumpOutcome;

/** How long a pump waits before asking again for a permit whose row a command or a change holds (busy). */
const BUSY_RETRY_MS = 25;

/** Reading the accounts again after one changed under a permit: at most this many times in a row, then `busy`. */
const MAX_CHANGED_RETRIES = 5;

/**
 * A resend in doubt whose answer cannot be read yet (another writer of ours may have made an account's state and not
 * recorded it): a failure with an unknown outcome, retried under the same key (a replay answers the same).
 */
const UNDECIDED = { code: UNDECIDED_OTHER_WRITER, outcomeUnknown: true } as const;

/** One batch's delivery so far. */
interface Attempts {
  /** Consecutive retryable failures. */
  failures: number;
  /** Permits refused in a row because an account changed under them. */
  changed: number;
  /** The next attempt waits for a pace slot first (the one booked was used, or none was). */
  needsPace: boolean;
}

/** A call's answer, with what the attempt that made it knew. */
type Answered = Exclude<SendResult, string>;

/**
 * Sends one batch until it has a definitive answer, or the wave stops: a pace slot, the permit and the call (its
 * BatchSender), then one handler per answer: written (ok), nothing applied (429, 503, 409: everybody waits), a
 * retryable failure (backoff, or the wave pauses as unreachable), a permanent refusal (the wave pauses with the batch
 * kept; a batch of one refused with its account's code fails that member). Every write for the batch is fenced: a batch lost to another worker ends the delivery (`lost`).
 */
export class BatchDelivery {
  constructor(
    private readonly ctx: PumpContext,
    private readonly kind: BatchKind,
    private readonly holds: PumpHolds,
    private readonly sender: BatchSender,
    /** The pump's wave, read fresh (a pace wait checks its state). */
    private readonly loadWave: (sql: Sql) => Promise<WaveRuntime | null>,
    private readonly writers = new AnswerWriters(ctx),
  ) {}

  /** `paced`: its pace slot has come already. */
  async deliver(sql: Sql, wave: WaveRuntime, batch: ClaimedBatch, paced: boolean): Promise<Delivered> {
    const attempts: Attempts = { failures: 0, changed: 0, needsPace: !paced };
    this.ctx.metrics.batchInFlight(this.kind, 1);
    try {
      for (;;) {
        const delivered = await this.attempt(sql, wave, batch, attempts);
        if (delivered !== 'again') return delivered;
      }
    } catch (err) {
      if (err instanceof BatchLostError) return this.ended('lost', 'settled'); // another worker owns it now
      throw err;
    } finally {
      this.ctx.metrics.batchInFlight(this.kind, -1);
    }
  }

  private async attempt(sql: Sql, wave: WaveRuntime, batch: ClaimedBatch, a: Attempts): Promise<Delivered | 'again'> {
    if (a.needsPace && !(await this.pace(sql, wave, batch))) return this.stopWith(sql, batch);
    a.needsPace = true;
    // A slot reserved before another pump's 429 must not be used inside that Retry-After.
    const blocked = await this.ctx.throttle.blockedMs();
    if (blocked > 0) {
      await this.holds.waitHolding(sql, batch, blocked);
      return 'again';
    }
    const sent = await this.sender.send(sql, batch, {
      wave,
      allowedStates: allowedStatesFor(this.kind, batch.attempts),
      pace: this.paceRequest(wave, batch),
    });
    if (sent === 'stopped') return this.stopWith(sql, batch);
    if (sent === 'nothing_to_send') return this.ended('nothing_to_send', 'settled'); // all skipped at the permit
    if (sent === 'busy' || sent === 'changed' || sent === 'late') return this.askAgain(sent, a);
    this.ctx.metrics.batchSent(this.kind, sent.outcome.kind);
    this.ctx.metrics.mailstoreCall('wave', callRecord(sent.startedAt, sent.outcome), batch.members.length);
    return this.onAnswer(sql, wave, batch, sent, a);
  }

  /** Waits for a pace slot (never counted as a retry attempt), the lease kept alive meanwhile; false: the wave stopped. */
  private pace(sql: Sql, wave: WaveRuntime, batch: ClaimedBatch): Promise<boolean> {
    return this.ctx.throttle.acquire(
      () => this.paceRequest(wave, batch),
      async () => {
        if (!(await this.holds.keepSlot(sql))) return false;
        const state = (await this.loadWave(sql))?.state;
        if (!state || !allowedStatesFor(this.kind, batch.attempts).includes(state)) return false;
        await this.holds.keepLease(sql, batch);
        return true;
      },
    );
  }

  /**
   * A command or an import holds a row the permit needs, an account changed under it, or the window was missed:
   * ask again (the slot has been used; a missed window means the pump itself was late). A changed account is read
   * again at once, a few times in a row.
   */
  private async askAgain(sent: 'busy' | 'changed' | 'late', a: Attempts): Promise<'again'> {
    if (sent === 'changed' && ++a.changed < MAX_CHANGED_RETRIES) {
      a.needsPace = false;
      return 'again';
    }
    a.changed = 0;
    a.needsPace = sent === 'late';
    if (!a.needsPace) await sleep(BUSY_RETRY_MS);
    return 'again';
  }

  private onAnswer(
    sql: Sql,
    wave: WaveRuntime,
    batch: ClaimedBatch,
    sent: Answered,
    a: Attempts,
  ): Promise<Delivered | 'again'> {
    const { outcome } = sent;
    switch (outcome.kind) {
      case 'ok':
        return this.applied(sql, wave, batch, sent, outcome, a);
      case 'rate_limited':
      case 'unavailable':
      case 'in_progress':
        return this.nothingApplied(sql, batch, sent, outcome.retryAfterMs);
      case 'retryable':
        return this.failed(sql, wave, batch, sent, outcome, a);
      case 'permanent':
        return this.refused(sql, wave, batch, sent, outcome);
      default:
        return assertNever(outcome, 'outcome');
    }
  }

  /**
   * Answered: one statement writes the answer and logs the call. The answer to a resend in doubt may tell of our own
   * earlier attempt's work as somebody else's: resentAnswer.
   */
  private async applied(
    sql: Sql,
    wave: WaveRuntime,
    batch: ClaimedBatch,
    sent: Answered,
    outcome: OkOutcome<BatchResult>,
    a: Attempts,
  ): Promise<Delivered | 'again'> {
    const results = sent.inDoubtBefore
      ? await this.writers.resentAnswer(sql, batch, sent.items, outcome.value.results)
      : outcome.value.results;
    // Another writer of ours may have made an account's state and not recorded it yet: resent later, still in doubt.
    if (results === 'undecided') return this.failed(sql, wave, batch, sent, UNDECIDED, a);
    const reasked = await this.writers.rollbackConflicts(sql, batch, sent.items, results);
    await this.settle(sql, batch, results, callRecord(sent.startedAt, outcome), reasked, outcome.replayed);
    await this.ctx.throttle.reward();
    return this.ended('applied', 'settled');
  }

  /**
   * Nothing applied: everybody waits Retry-After and the pace halves; same key next time. Blocking comes first,
   * before any bookkeeping, so other dispatchers learn of it as early as possible.
   */
  private async nothingApplied(sql: Sql, batch: ClaimedBatch, sent: Answered, retryAfterMs: number): Promise<'again'> {
    await this.ctx.throttle.penalize(retryAfterWithJitter(retryAfterMs / 1000, Math.random));
    this.ctx.metrics.retryAfter('wave', retryAfterMs);
    // The mailstore may have lowered its advertised rate: learn it now, not from the next 429s.
    if (sent.outcome.kind === 'rate_limited') this.ctx.capabilities.rateLimited();
    await this.record(sql, batch, sent);
    // 409: the earlier attempt still runs, so it may still apply.
    if (sent.outcome.kind !== 'in_progress') await this.markNothingApplied(sql, batch, sent.inDoubtBefore);
    await this.holds.coverWait(sql, batch, retryAfterMs);
    return 'again';
  }

  /** A retryable failure: backoff, until too many in a row pause the wave as unreachable (the batch kept as is). */
  private async failed(
    sql: Sql,
    wave: WaveRuntime,
    batch: ClaimedBatch,
    sent: Answered,
    outcome: Pick<RetryableOutcome, 'outcomeUnknown'> & { code: string },
    a: Attempts,
  ): Promise<Delivered | 'again'> {
    await this.record(sql, batch, sent);
    if (!outcome.outcomeUnknown) await this.markNothingApplied(sql, batch, sent.inDoubtBefore);
    a.failures++;
    if (a.failures >= this.ctx.settings.maxConsecutiveFailures) {
      // The batch keeps its key and members (outcome unknown); resume retries it as is.
      await this.ctx.commands.systemPause(wave.id, 'mailstore_unreachable', {
        batchId: batch.id,
        lastError: outcome.code,
        attempts: a.failures,
      });
      await this.ctx.repos.lease.park(sql, batch);
      return this.ended('paused', 'paused_unreachable');
    }
    const backoff = backoffMs(a.failures, { ...this.ctx.settings.retryBackoff, random: Math.random });
    await this.holds.waitHolding(sql, batch, backoff);
    return 'again';
  }

  /**
   * Permanent: a refusal of the whole call applied nothing (contract §3) and, but for one account's own code
   * (refusalOfItsAccount), judged none of the accounts: the batch is kept with its key and the wave pauses (401/403,
   * a gateway's 404, a 400 about our request), as after an outage; a rollback's batch is sent again. A resend in
   * doubt is answered first from a read of its accounts (readBackAnswer): those the earlier attempt wrote settle as
   * written; when one was not, or cannot be read, the batch stays in doubt, kept, and the wave pauses.
   */
  private async refused(
    sql: Sql,
    wave: WaveRuntime,
    batch: ClaimedBatch,
    sent: Answered,
    outcome: PermanentOutcome,
  ): Promise<Delivered> {
    await this.record(sql, batch, sent);
    // Too large, and no attempt of it may have applied anything: the contract's "split". Later batches carry at most
    // what the mailstore said; this one's members go back to be claimed again in such batches, not failed. (One
    // account refused as too many is no split: it is refused as any other batch.)
    if (outcome.status === 413 && !sent.inDoubtBefore && batch.members.length > 1) {
      this.ctx.capabilities.batchTooLarge(batch.members.length, outcome.maxItems);
      await this.ctx.repos.lease.markNothingApplied(sql, batch, false);
      if (await this.ctx.repos.lease.release(sql, batch, true)) return this.ended('released', 'settled');
    }
    const auth = outcome.status === 401 || outcome.status === 403;
    const refused = refusalOfItsAccount(batch.members, outcome);
    const results =
      auth || batch.kind === 'rollback'
        ? null
        : sent.inDoubtBefore
          ? await this.readBack(sql, wave, batch, sent.items, refused)
          : refused;
    if (!results) {
      await this.ctx.commands.systemPause(wave.id, 'mailstore_unreachable', {
        batchId: batch.id,
        status: outcome.status,
        code: outcome.code,
        ...(auth ? {} : { inDoubt: sent.inDoubtBefore }),
      });
      await this.ctx.repos.lease.park(sql, batch);
      return this.ended('paused', auth ? 'paused_unauthorized' : 'paused_unreachable');
    }
    await this.settle(sql, batch, results, undefined);
    return this.ended('refused', 'settled');
  }

  /**
   * A refused resend in doubt, answered from a read of each account (readBackAnswer); null when one read failed, or
   * another writer of ours may have made an account's state without having recorded it yet.
   */
  private async readBack(
    sql: Sql,
    wave: WaveRuntime,
    batch: ClaimedBatch,
    items: Answered['items'],
    refused: BatchItemResult[] | null,
  ): Promise<BatchItemResult[] | null> {
    // The reads share the pace as one more batch of these accounts would (a 429 here would pause the wave); read
    // even if the wave stopped meanwhile: the answer is owed to the record either way.
    await this.pace(sql, wave, batch);
    const reads: AccessState[] = [];
    for (const item of items) {
      const read = await this.ctx.client.getAccess(item.account, { requestId: `${batch.idempotencyKey}/read` });
      if (read.kind !== 'ok') return null;
      reads.push(read.value);
    }
    const told = toldByReads(reads);
    const others = await this.writers.othersWrites(sql, batch, items, told);
    return others.pending.size > 0 ? null : readBackAnswer(items, told, others.theirs, refused);
  }

  /** Writes the batch's answer (its outcomes: member-outcome.ts), with its call's log row when given. */
  private async settle(
    sql: Sql,
    batch: ClaimedBatch,
    results: readonly BatchItemResult[],
    call: CallRecord | undefined,
    reasked?: ReadonlyMap<number, Reask>,
    replayed = false,
  ): Promise<void> {
    const { settle } = this.ctx.repos;
    const ordered = this.ctx.client.versionsNameWrites;
    const settled =
      batch.kind === 'forward'
        ? await settle.settleForward(sql, batch, forwardSettlement(batch.members, results), call, ordered, replayed)
        : await settle.settleRollback(
            sql,
            batch,
            rollbackSettlement(batch.members, results, reasked),
            call,
            ordered,
            replayed,
          );
    if (!settled) throw new BatchLostError(batch.id);
  }

  /**
   * The answer said the attempt applied nothing (429, 503, a failure before the request left): unless another
   * attempt is in doubt, its next permit decides again on the accounts as they are then.
   */
  private async markNothingApplied(sql: Sql, batch: ClaimedBatch, inDoubtBefore: boolean): Promise<void> {
    if (!(await this.ctx.repos.lease.markNothingApplied(sql, batch, inDoubtBefore))) {
      throw new BatchLostError(batch.id);
    }
    batch.inDoubt = inDoubtBefore;
  }

  /** Logs a call that settled nothing. */
  private record(sql: Sql, batch: ClaimedBatch, sent: Answered): Promise<void> {
    return this.ctx.repos.settle.recordCall(sql, batch, callRecord(sent.startedAt, sent.outcome));
  }

  /**
   * The wave stopped while this batch waited: hand it back if it never left, or if its wave was cancelled or is
   * being rolled back and no attempt applied anything (see BatchLeaseRepository.release); else keep it for its retry
   * (at once after a resume: its lease ends now).
   */
  private async stopWith(sql: Sql, batch: ClaimedBatch): Promise<PumpOutcome> {
    const released = await this.ctx.repos.lease.release(sql, batch);
    if (!released) await this.ctx.repos.lease.park(sql, batch);
    return this.ended(released ? 'released' : 'stopped', 'stopped');
  }

  /** Counts how this pump finished with its batch (the worker's /metrics), and passes `result` on. */
  private ended<R>(end: BatchEnd, result: R): R {
    this.ctx.metrics.batchEnded(this.kind, end);
    return result;
  }

  private paceRequest(wave: WaveRuntime, batch: ClaimedBatch): ReserveRequest {
    const caps = this.ctx.client.cachedCapabilities();
    return paceRequestFor(wave, this.kind, batch.members.length, caps?.rateLimits.accountUpdatesPerSecond);
  }
}
