import { BatchItemResult } from '@app/mailstore';
import { ClaimedBatch } from './batch.types';
import { SendResult } from './batch-sender';
import { PumpContext } from './pump-context';
import { presumedOwn, resentAnswer } from './resent-answer';
import { conflictAccounts, judgeConflicts, Reask } from './rollback-conflicts';
import { Sql } from '../db/sql';

type Items = Exclude<SendResult, string>['items'];

/**
 * Whose write an answer tells of (BatchDelivery's readings of an answer against our own records): a resend in doubt's
 * accounts found as asked, a rollback's conflicts. Each one query, only when the answer needs it.
 */
export class AnswerWriters {
  constructor(private readonly ctx: PumpContext) {}

  /**
   * The answer to a resend in doubt (resent-answer.ts): an account already as asked is our earlier attempt's work,
   * unless another wave or a support operation is recorded to have made the version answered; `undecided` while
   * another writer of ours may have made it without having recorded it yet.
   */
  async resentAnswer(
    sql: Sql,
    batch: ClaimedBatch,
    items: Items,
    results: readonly BatchItemResult[],
  ): Promise<BatchItemResult[] | 'undecided'> {
    const others = await this.othersWrites(sql, batch, items, results);
    return others.pending.size > 0 ? 'undecided' : resentAnswer(items, results, others.theirs);
  }

  /**
   * A rollback answer's conflicts, judged against our recorded writes to their accounts (rollback-conflicts.ts, one
   * query, only when the answer has a conflict carrying a version): the members asked again, by item index. Rolling
   * back two overlapping waves, in either order or at once, then closes what each opened.
   */
  async rollbackConflicts(
    sql: Sql,
    batch: ClaimedBatch,
    items: Items,
    results: readonly BatchItemResult[],
  ): Promise<ReadonlyMap<number, Reask>> {
    const accounts = batch.kind === 'rollback' ? conflictAccounts(batch.members, results) : [];
    if (!accounts.length) return new Map();
    const own = await this.ctx.repos.rollback.ownWrites(sql, batch.waveId, accounts);
    return judgeConflicts(batch.members, items, results, own);
  }

  /**
   * Which of the items a resend in doubt found as asked another writer of ours made (settle repository's
   * othersWrites), told by the version answered. Only where a version names one write (Mailstore.versionsNameWrites):
   * a passdb without a version column answers the same fingerprint for every write to the same state, so another
   * wave's write long ago would take our own lost one's place, and our rollback would leave it open. There, every such
   * item is presumed ours (ownEarlierWrites), which a rollback closes: the safe side.
   */
  async othersWrites(
    sql: Sql,
    batch: ClaimedBatch,
    items: Items,
    results: readonly BatchItemResult[],
  ): Promise<{ theirs: ReadonlySet<number>; pending: ReadonlySet<number> }> {
    if (!this.ctx.client.versionsNameWrites) return { theirs: new Set(), pending: new Set() };
    const ids = batch.members.map((m) => m.accountId);
    // Forward batches may wait for each other: the older does not wait for a younger one that waits (no two wait for
    // each other). A rollback batch waits for any (no forward batch ever waits for a rollback's).
    const forward = batch.kind === 'forward';
    const others = await this.ctx.repos.settle.othersWrites(sql, presumedOwn(items, results, ids), {
      waveId: batch.waveId,
      ...(forward ? { olderThan: batch.id } : {}),
    });
    if (forward && others.pending.size > 0) await this.ctx.repos.settle.markUndecided(sql, batch.id);
    return others;
  }
}
