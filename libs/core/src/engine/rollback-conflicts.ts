import { OwnWrite, reaskable, RollbackOutcome, UNDECIDED_OTHER_WRITER } from '@app/domain';
import { BatchItem, BatchItemResult } from '@app/mailstore';
import { BatchMember } from './batch.types';
import { OwnWriteRow, OwnWrites } from './rollback-batch.repository';

/** How many times one member's conflict may be sent back to wait for another writer of ours; then it stands. */
const MAX_REQUEUES = 5;

/** A rollback member asked again: at which `ifVersion`, and the outcome its settle records. */
export interface Reask {
  ifVersion: number;
  outcome: RollbackOutcome;
}

/** The accounts of a rollback answer's conflicts that carry a version and a state (the only ones to judge). */
export function conflictAccounts(members: readonly BatchMember[], results: readonly BatchItemResult[]): number[] {
  return results.flatMap((r, i) => (judgeable(members[i], r) ? [members[i].accountId] : []));
}

/**
 * The rule (libs/domain reaskable) on each conflict of a rollback batch's answer, with our recorded writes to its
 * accounts (RollbackBatchRepository.ownWrites, one query per batch): by item index, the members asked again. One that
 * only our own later writes on other protocols caused is asked at the version answered; one no chain explains while
 * another writer of ours is unrecorded on the account goes back to wait at its own `ifVersion` (it wrote nothing),
 * at most MAX_REQUEUES times, and is judged again once that writer has recorded. Any other conflict stands. The batch
 * itself always settles: a batch that waited for another, undecided, would keep its own applied items unrecorded, and
 * two rollbacks at once would wait for each other for ever.
 */
export function judgeConflicts(
  members: readonly BatchMember[],
  items: readonly BatchItem[],
  results: readonly BatchItemResult[],
  own: OwnWrites,
): Map<number, Reask> {
  const byAccount = ownWritesByAccount(own.writes);
  const reasked = new Map<number, Reask>();
  results.forEach((r, i) => {
    const m = members[i];
    if (!judgeable(m, r)) return;
    const now = { imap: r.protocols?.imap === true, pop3: r.protocols?.pop3 === true };
    const versions = { from: Number(m.version), to: Number(r.version) };
    if (reaskable(items[i].protocols, now, versions, byAccount.get(m.accountId) ?? []))
      reasked.set(i, { ifVersion: versions.to, outcome: { state: 'reasked' } });
    else if (own.pending.has(m.accountId) && (own.requeues.get(m.accountId) ?? 0) < MAX_REQUEUES)
      reasked.set(i, { ifVersion: versions.from, outcome: { state: 'reasked', reason: UNDECIDED_OTHER_WRITER } });
  });
  return reasked;
}

/** Our recorded writes (RollbackBatchRepository.ownWrites' rows) by account, as the domain rule reads them. */
export function ownWritesByAccount(rows: readonly OwnWriteRow[]): Map<number, OwnWrite[]> {
  const byAccount = new Map<number, OwnWrite[]>();
  for (const w of rows) {
    const id = Number(w.account_id);
    byAccount.set(id, [...(byAccount.get(id) ?? []), { from: w.from_version, to: w.to_version, names: w.names }]);
  }
  return byAccount;
}

function judgeable(m: BatchMember, r: BatchItemResult): boolean {
  return r.status === 'conflict' && r.protocols !== undefined && r.version !== undefined && m.version !== null;
}
