import { OwnWrite, reaskable } from '@app/domain';
import { BatchItem, BatchItemResult } from '@app/mailstore';
import { BatchMember } from './batch.types';
import { OwnWriteRow } from './rollback-batch.repository';

/** Of a rollback batch's answer: the items asked again (reaskable), and whether any is undecided yet. */
export interface RollbackConflicts {
  /** Item indexes whose conflict only our own later writes on other protocols caused: asked again at its version. */
  reasked: Set<number>;
  /** An item's conflict no recorded chain explains while another writer of ours may not have recorded its write. */
  undecided: boolean;
}

/** The accounts of a rollback answer's conflicts that carry a version and a state (the only ones to judge). */
export function conflictAccounts(members: readonly BatchMember[], results: readonly BatchItemResult[]): number[] {
  return results.flatMap((r, i) => (judgeable(members[i], r) ? [members[i].accountId] : []));
}

/**
 * The rule (libs/domain reaskable) on each conflict of a rollback batch's answer, with our recorded writes to its
 * accounts (RollbackBatchRepository.ownWrites, one query per batch). A conflict no chain explains stays a conflict,
 * unless another writer of ours is still unrecorded on that account: the answer is then undecided and the batch is
 * resent later under its key (as a resend in doubt waits for such a writer: batch-delivery's UNDECIDED).
 */
export function judgeConflicts(
  members: readonly BatchMember[],
  items: readonly BatchItem[],
  results: readonly BatchItemResult[],
  own: { writes: readonly OwnWriteRow[]; pending: ReadonlySet<number> },
): RollbackConflicts {
  const byAccount = ownWritesByAccount(own.writes);
  const reasked = new Set<number>();
  let undecided = false;
  results.forEach((r, i) => {
    const m = members[i];
    if (!judgeable(m, r)) return;
    const now = { imap: r.protocols?.imap === true, pop3: r.protocols?.pop3 === true };
    const versions = { from: Number(m.version), to: Number(r.version) };
    if (reaskable(items[i].protocols, now, versions, byAccount.get(m.accountId) ?? [])) reasked.add(i);
    else if (own.pending.has(m.accountId)) undecided = true;
  });
  return { reasked, undecided };
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
