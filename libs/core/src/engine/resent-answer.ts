import { AccessState, BatchItem, BatchItemResult } from '@app/mailstore';
import { ownEarlierWrites } from './member-outcome';

/** An item of a resend in doubt that ownEarlierWrites would count as ours: its account and the version answered. */
export interface PresumedOwn {
  index: number;
  accountId: number;
  version: number;
}

/**
 * The items of a resend in doubt that ownEarlierWrites reads as our earlier attempt's work (an account already as
 * asked), with the version the mailstore answered: whether another writer of ours made that version is the
 * settle repository's question (othersWrites).
 */
export function presumedOwn(
  items: readonly BatchItem[],
  results: readonly BatchItemResult[],
  accountIds: readonly number[],
): PresumedOwn[] {
  const presumed = ownEarlierWrites(items, results);
  return presumed.flatMap((r, i) => {
    const version = results[i].version;
    return r.status !== results[i].status && version !== undefined && version !== null
      ? [{ index: i, accountId: accountIds[i], version }]
      : [];
  });
}

/**
 * The answer to a batch resent in doubt, as the settle reads it: ownEarlierWrites, except the items whose state at the
 * answered version another writer of ours is recorded to have made (another wave's enabled member, a support
 * operation that applied: `theirs`, item indexes). Those are left as answered: a forward member is then skipped
 * `already_enabled` (the other wave opened it, and rolling this one back must not close it), instead of two waves
 * each recording the one write as theirs. A version is made by one write only, so such a witness is certain, where
 * ownEarlierWrites can only presume. Left presumed: a write of another wave whose settle comes after this one's.
 */
export function resentAnswer(
  items: readonly BatchItem[],
  results: readonly BatchItemResult[],
  theirs: ReadonlySet<number>,
): BatchItemResult[] {
  const presumed = ownEarlierWrites(items, results);
  return presumed.map((r, i) => (theirs.has(i) ? results[i] : r));
}

/** Accounts as read back (GET), told as the `unchanged` items a batch would have answered, state included. */
export function toldByReads(reads: readonly AccessState[]): BatchItemResult[] {
  return reads.map((r) => ({
    account: r.account,
    status: 'unchanged',
    protocols: r.protocols,
    version: r.version,
    updatedAt: r.updatedAt,
  }));
}

/**
 * A resend in doubt refused outright (any 4xx but 401/403): the refusal applied nothing and says nothing of the
 * earlier attempt, which may have written. Answered from a read of each account (`told`, toldByReads): one already as
 * asked is our earlier attempt's work (applied), or another writer's (`theirs`: left `unchanged`); any other was not
 * written by it and takes the refusal (`refused`, item i for member i), or, when the refusal is not about the
 * accounts (null: refusalOfItsAccount), makes the whole answer null (the wave pauses). Read as the refusal alone,
 * members the earlier attempt opened would be recorded failed and left open by a rollback.
 */
export function readBackAnswer(
  items: readonly BatchItem[],
  told: readonly BatchItemResult[],
  theirs: ReadonlySet<number>,
  refused: readonly BatchItemResult[] | null,
): BatchItemResult[] | null {
  const read = resentAnswer(items, told, theirs);
  const asAsked = ownEarlierWrites(items, told).map((r) => r.status === 'applied');
  if (!refused && asAsked.some((a) => !a)) return null;
  return read.map((r, i) => (asAsked[i] || !refused ? r : refused[i]));
}
