import { DataSource } from 'typeorm';
import { OperationEntity } from '@app/db';
import { operationEnded, rollbackSettleDelta, UNDECIDED_OTHER_WRITER } from '@app/domain';
import { FailureOutcome, Mailstore, Outcome, PatchAccessResult, withRetries } from '@app/mailstore';
import { AccountRepository } from '../accounts/account.repository';
import { audit } from '../db/audit-log';
import { Sql } from '../db/sql';
import { applyCounters } from '../db/wave-counters';
import { withTransaction } from '../db/transaction';
import { callHttpStatus, callOutcomeLabel } from '../engine/call-record';
import type { CapabilitiesWatch } from '../engine/capabilities-watch';
import { EngineMetrics, NO_ENGINE_METRICS } from '../engine/engine-metrics';
import {
  creditedPatchVersion,
  isVersionMismatch,
  othersPatch,
  ownEarlierPatch,
  patchAnswer,
  rollbackOutcome,
} from '../engine/member-outcome';
import { BatchSettleRepository } from '../engine/batch-settle.repository';
import { RollbackBatchRepository } from '../engine/rollback-batch.repository';
import { judgeConflict, ownWritesByAccount } from '../engine/rollback-conflicts';
import { Throttle } from '../engine/throttle';
import { MemberRollbackRepository } from './member-rollback.repository';
import { OperationRepository } from './operation.repository';
import { operationAction, operationFailure, operationPatch } from './support-rules';

/** Thrown (so the job is retried later) while an earlier operation on the same account is not finished. */
export class EarlierOperationPendingError extends Error {
  constructor(operationId: string, earlierId: string) {
    super(`operation ${operationId} waits for the earlier operation ${earlierId} on the same account`);
    this.name = 'EarlierOperationPendingError';
  }
}

/**
 * Thrown (so the job is retried later, then re-added by the reconciler) when an operation's retries ran out on
 * failures while an attempt may have applied (an answer in doubt): finished as failed, it would be recorded as not
 * done while the mailstore did it; the next run re-asks under the same key, whose stored answer settles it.
 */
export class OperationInDoubtError extends Error {
  constructor(operationId: string, outcome: string) {
    super(`operation ${operationId} is in doubt (${outcome}): asked again later under the same key`);
    this.name = 'OperationInDoubtError';
  }
}

/** At most this many re-asks of one support rollback (each needs a newer write of ours to follow: a few at most). */
const MAX_REASKS = 4;

/** The PATCH's answer after its retries, when it was sent, and whether an attempt may have applied it. */
interface Call {
  outcome: Outcome<PatchAccessResult>;
  startedAt: Date;
  latencyMs: number;
  inDoubt: boolean;
  /** In doubt, answered as asked, while another writer of ours on the account has not recorded its write yet. */
  undecided?: boolean;
}

/**
 * Runs one queued operation in the worker: priority slot in the global pace, one PATCH with the operation's own
 * idempotency key (the same on every retry), then the outcome, the account's new state and the audit row.
 */
export class OperationRunner {
  private readonly operations: OperationRepository;
  private readonly accounts: AccountRepository;
  private readonly members = new MemberRollbackRepository();
  private readonly rollbacks = new RollbackBatchRepository();
  private readonly settles = new BatchSettleRepository();

  constructor(
    private readonly dataSource: DataSource,
    private readonly client: Mailstore,
    private readonly throttle: Throttle,
    private readonly metrics: EngineMetrics = NO_ENGINE_METRICS,
    /** Told of a 429, to read the capabilities again (the worker's; none in tests that run operations alone). */
    private readonly capabilities?: Pick<CapabilitiesWatch, 'rateLimited'>,
  ) {
    this.operations = new OperationRepository(dataSource);
    this.accounts = new AccountRepository(dataSource);
  }

  async run(operationId: string): Promise<'succeeded' | 'failed' | 'already_done' | 'superseded'> {
    const begun = await this.begin(operationId);
    if (!begun) return 'already_done';
    let { op } = begun;
    const { fence } = begun;
    let call = await this.call(op);
    for (let n = 0; n < MAX_REASKS && op.kind === 'rollback' && isVersionMismatch(call.outcome); n++) {
      const next = await this.reasked(op, fence, call);
      if (!next) break;
      op = next;
      call = await this.call(op);
    }
    const record = this.observed(call);
    const { outcome } = call;
    if (call.undecided || (call.inDoubt && outcome.kind !== 'ok' && outcome.kind !== 'permanent')) {
      await withTransaction(this.dataSource, ({ sql }) => this.operations.recordCall(sql, op.id, record));
      throw new OperationInDoubtError(op.id, call.undecided ? UNDECIDED_OTHER_WRITER : record.outcome);
    }
    return withTransaction(this.dataSource, async ({ sql }) => {
      await this.operations.recordCall(sql, op.id, record);
      // Another run began since (this worker froze past its job's lock): its answer is the operation's, not ours.
      if (!(await this.operations.holds(sql, op.id, fence))) return 'superseded';
      if (op.kind === 'rollback') await this.settleMember(sql, op, call.outcome);
      return call.outcome.kind === 'ok'
        ? this.succeeded(sql, op, call.outcome.value, call.outcome.replayed)
        : this.failed(sql, op, call.outcome);
    });
  }

  /**
   * The operation to run (as read: `attempts` are the earlier runs'), marked running, with this run's fence (its
   * attempt number); null when it is already finished, or another run began it meanwhile.
   */
  private async begin(operationId: string): Promise<{ op: OperationEntity; fence: number } | null> {
    const op = await this.operations.findById(operationId);
    if (!op || operationEnded(op.state)) return null;
    // Support's changes to one account apply in the order they were asked (an enable then a re-block must end
    // blocked): an operation waits, by its job's retries, until every earlier one on the account is finished.
    const earlier = await this.operations.earlierUnfinished(op);
    if (earlier) throw new EarlierOperationPendingError(op.id, earlier);
    if (!(await this.operations.markRunning(op))) return null;
    return { op, fence: op.attempts + 1 };
  }

  /** The PATCH, each attempt through the shared pace with priority; a 429 or 503 slows the pace for everyone. */
  private async call(op: OperationEntity): Promise<Call> {
    if (!this.client.cachedCapabilities()) await this.client.capabilities();
    const { request, options } = operationPatch(op);
    // In doubt after an earlier run (it may have sent the call) or an answer in doubt: a native driver then kicks
    // again what such an attempt may have left open (libs/mailstore drivers/session-kicks.ts).
    let inDoubt = op.attempts > 0;
    const startedAt = new Date();
    const outcome = await withRetries(
      async () => {
        // The rate as last read, at every re-ask (read again after a 429 and periodically).
        await this.throttle.acquire(() => ({
          cost: 1,
          waveRate: 0,
          mailstoreRate: this.client.cachedCapabilities()?.rateLimits.accountUpdatesPerSecond ?? 0,
          priority: true,
        }));
        const o = await this.client.patchAccess(op.login, request, { ...options, inDoubt });
        if (o.kind === 'retryable' && o.outcomeUnknown) inDoubt = true;
        if (o.kind === 'rate_limited' || o.kind === 'unavailable') {
          await this.throttle.penalize(o.retryAfterMs);
          this.metrics.retryAfter('operation', o.retryAfterMs);
          if (o.kind === 'rate_limited') this.capabilities?.rateLimited();
        }
        return o;
      },
      { maxAttempts: 5, maxRateLimitWaitMs: 60_000 },
    );
    if (!inDoubt) return { outcome, startedAt, latencyMs: Date.now() - startedAt.getTime(), inDoubt };
    // An earlier attempt may have written: a mailstore that answers afresh (a native driver, a forgotten key) then
    // says `unchanged` or 412 about our own write (member-outcome's ownEarlierPatch).
    const read = isVersionMismatch(outcome) ? await this.client.getAccess(op.login) : undefined;
    const presumed = ownEarlierPatch(request.protocols, outcome, read);
    const others = await this.othersWrite(op, creditedPatchVersion(outcome, presumed));
    return {
      outcome: others === 'theirs' && presumed.kind === 'ok' ? othersPatch(presumed) : presumed,
      startedAt,
      latencyMs: Date.now() - startedAt.getTime(),
      inDoubt,
      ...(others === 'pending' ? { undecided: true } : {}),
    };
  }

  /**
   * Whether the version our earlier attempt was credited with (ownEarlierPatch) is another writer's of ours, as a
   * batch resent in doubt asks (BatchSettleRepository.othersWrites): a wave's member or another operation recorded
   * it (`theirs`: the operation found the account as asked, changed nothing), or one may have written it without
   * having recorded it yet (`pending`: asked again later). Only where versions name writes (else presumed ours).
   */
  private async othersWrite(op: OperationEntity, version: number | null): Promise<'theirs' | 'pending' | null> {
    if (version === null || !this.client.versionsNameWrites) return null;
    const sql: Sql = (text, params) => this.dataSource.query(text, params);
    const found = await this.settles.othersWrites(sql, [{ index: 0, accountId: Number(op.accountId), version }], {
      operationId: op.id,
      olderThan: 0, // an operation does not wait for a batch that waits for it (the batch then finds its record)
    });
    return found.theirs.size ? 'theirs' : found.pending.size ? 'pending' : null;
  }

  /**
   * A support rollback refused by its If-Match (412), judged as a wave rollback batch's conflict (rollback-conflicts.ts,
   * on the account read back): when only our own later writes on other protocols moved its version, the operation is
   * asked again at the version read, under a key of its own (the request changed), audited; null when the refusal
   * stands. In doubt (run again later) while another writer of ours on the account has not recorded its write.
   */
  private async reasked(op: OperationEntity, fence: number, refused: Call): Promise<OperationEntity | null> {
    const { waveId, ifVersion } = op;
    if (waveId === null || ifVersion === null) return null;
    const read = await this.client.getAccess(op.login);
    if (read.kind !== 'ok') return null;
    const { protocols, version } = read.value;
    const { request } = operationPatch(op);
    return withTransaction(this.dataSource, async ({ sql }) => {
      if (!(await this.operations.holds(sql, op.id, fence))) return null; // another run has it
      const own = await this.rollbacks.ownWrites(sql, waveId, [op.accountId], op.id);
      const writes = ownWritesByAccount(own.writes).get(op.accountId) ?? [];
      const verdict = judgeConflict(request.protocols, { protocols, from: ifVersion, to: version }, op.accountId, {
        writes,
        pending: own.pending,
      });
      if (verdict === 'wait') throw new OperationInDoubtError(op.id, UNDECIDED_OTHER_WRITER);
      if (verdict === 'stands') return null;
      const idempotencyKey = `${op.idempotencyKey}/v${version}`;
      await this.operations.recordCall(sql, op.id, this.observed(refused));
      await this.operations.reask(sql, op.id, version, idempotencyKey);
      await audit(sql, {
        ...auditOf(op),
        action: operationAction(op.kind, 'reasked'),
        before: { version: ifVersion },
        after: { imap: protocols.imap === true, pop3: protocols.pop3 === true, version },
      });
      return { ...op, ifVersion: version, idempotencyKey };
    });
  }

  /** A call's log row, counted in the metrics as it is made. */
  private observed(call: Call) {
    const record = {
      startedAt: call.startedAt,
      latencyMs: call.latencyMs,
      httpStatus: callHttpStatus(call.outcome),
      outcome: callOutcomeLabel(call.outcome),
      itemErrors: call.outcome.kind === 'ok' ? 0 : 1,
    };
    this.metrics.mailstoreCall('operation', record, 1);
    return record;
  }

  /** A rollback's member ends as a wave rollback batch would have ended it on the same answer. */
  private async settleMember(sql: Sql, op: OperationEntity, outcome: Outcome<PatchAccessResult>): Promise<void> {
    if (op.waveId === null || op.waveSeq === null) return;
    const member = rollbackOutcome(patchAnswer(outcome));
    await this.members.settle(sql, op.waveId, op.waveSeq, member);
    await applyCounters(sql, op.waveId, rollbackSettleDelta([member]));
  }

  private async succeeded(
    sql: Sql,
    op: OperationEntity,
    v: PatchAccessResult,
    replayed: boolean,
  ): Promise<'succeeded'> {
    await this.accounts.recordObservedAccess(
      sql,
      op.accountId,
      op.id,
      { ...v.protocols, version: v.version },
      { versionsNameWrites: this.client.versionsNameWrites, replayed },
    );
    await this.operations.markSucceeded(sql, op.id, v.changed ? 'applied' : 'unchanged', v.version);
    await audit(sql, {
      ...auditOf(op),
      action: operationAction(op.kind, 'done'),
      after: { ...v.protocols, version: v.version, changed: v.changed },
    });
    return 'succeeded';
  }

  private async failed(sql: Sql, op: OperationEntity, outcome: FailureOutcome): Promise<'failed'> {
    const failure = operationFailure(outcome);
    await this.operations.markFailed(sql, op.id, failure.outcome, failure.error);
    await audit(sql, { ...auditOf(op), action: operationAction(op.kind, 'failed'), detail: failure.error });
    return 'failed';
  }
}

/** The fields every audit row of an operation's outcome carries. */
function auditOf(op: OperationEntity) {
  return {
    actor: op.actor,
    accountId: op.accountId,
    login: op.login,
    operationId: op.id,
    reason: op.reason,
    ticket: op.ticket,
  };
}
