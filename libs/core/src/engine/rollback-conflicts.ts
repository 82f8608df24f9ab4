import { OwnWrite, reaskable, requeueDelayMs, RollbackOutcome, UNDECIDED_OTHER_WRITER } from '@app/domain';
import { BatchItem, BatchItemResult } from '@app/mailstore';
import { BatchMember } from './batch.types';
import { OwnWriteRow, OwnWrites } from './rollback-batch.repository';

/** A rollback member asked again: at which `ifVersion`, and the outcome its settle records. */
export interface Reask {
  ifVersion: number;
  outcome: RollbackOutcome;
  /** How long it waits before it may be claimed again (null: at once). */
  waitMs: number | null;
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
 * spaced in time and bounded (libs/domain requeueDelayMs), and is judged again once that writer may have recorded.
 * Any other conflict stands. The batch itself always settles: a batch that waited for another, undecided, would keep
 * its own applied items unrecorded, and two rollbacks at once would wait for each other for ever.
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
    const from = Number(m.version);
    const to = Number(r.version);
    const verdict = judgeConflict(items[i].protocols, { protocols: r.protocols, from, to }, m.accountId, {
      writes: byAccount.get(m.accountId) ?? [],
      pending: own.pending,
    });
    if (verdict === 'reask') reasked.set(i, { ifVersion: to, outcome: { state: 'reasked' }, waitMs: null });
    if (verdict !== 'wait') return;
    const waitMs = requeueDelayMs(own.requeues.get(m.accountId) ?? 0);
    if (waitMs !== null)
      reasked.set(i, { ifVersion: from, outcome: { state: 'reasked', reason: UNDECIDED_OTHER_WRITER }, waitMs });
  });
  return reasked;
}

/**
 * One account's conflict, for a wave's rollback batch and support's rollback of one member alike: `reask` at the
 * version answered (libs/domain reaskable on our writes to it), `wait` while another writer of ours on it is
 * unrecorded, else the conflict `stands`.
 */
export function judgeConflict(
  restores: BatchItem['protocols'],
  answered: { protocols: BatchItemResult['protocols']; from: number; to: number },
  accountId: number,
  own: { writes: readonly OwnWrite[]; pending: ReadonlySet<number> },
): 'reask' | 'wait' | 'stands' {
  const now = { imap: answered.protocols?.imap === true, pop3: answered.protocols?.pop3 === true };
  if (reaskable(restores, now, answered, own.writes)) return 'reask';
  return own.pending.has(accountId) ? 'wait' : 'stands';
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
