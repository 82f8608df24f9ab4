import { BatchItem, BatchItemResult } from '@app/mailstore';
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
