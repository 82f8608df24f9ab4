import { REQUEUE_LIMIT, requeueDelayMs, UNDECIDED_OTHER_WRITER } from '@app/domain';
import { BatchItem, BatchItemResult } from '@app/mailstore';
import { BatchMember } from './batch.types';
import { OwnWrites } from './rollback-batch.repository';
import { judgeConflicts } from './rollback-conflicts';

const member = (accountId: number, version: number | null = 1): BatchMember => ({
  seq: accountId,
  accountId,
  login: `user${accountId}@example.test`,
  priorImap: false,
  priorPop3: false,
  version,
});
/** A's rollback closes IMAP, which its write (v1) opened. */
const closeImap = (accountId: number): BatchItem => ({
  account: `user${accountId}@example.test`,
  protocols: { imap: false },
  ifVersion: 1,
});
/** The mailstore's conflict: IMAP and POP3 on at v2. */
const conflictAt2 = (accountId: number): BatchItemResult => ({
  account: `user${accountId}@example.test`,
  status: 'conflict',
  protocols: { imap: true, pop3: true },
  version: 2,
});
const own = (o: Partial<OwnWrites>): OwnWrites => ({ writes: [], pending: new Set(), requeues: new Map(), ...o });
/** Another wave of ours opened POP3, v1 → v2, recorded. */
const bRecorded = (accountId: number) => ({
  account_id: String(accountId),
  from_version: 1,
  to_version: 2,
  names: ['pop3'] as ('imap' | 'pop3')[],
});

describe('judgeConflicts: a rollback batch answer’s conflicts, judged', () => {
  it('only our own later write on another protocol in the way: asked again at once, at the version answered', () => {
    const judged = judgeConflicts([member(1)], [closeImap(1)], [conflictAt2(1)], own({ writes: [bRecorded(1)] }));
    expect([...judged]).toEqual([[0, { ifVersion: 2, outcome: { state: 'reasked' }, waitMs: null }]]);
  });

  it('another writer of ours unrecorded: back to wait at its own version, for the delay of its next wait', () => {
    for (const [waits, waitMs] of [
      [0, 250],
      [3, 2_000],
      [REQUEUE_LIMIT - 1, 30_000],
    ]) {
      const judged = judgeConflicts(
        [member(1)],
        [closeImap(1)],
        [conflictAt2(1)],
        own({ pending: new Set([1]), requeues: new Map([[1, waits]]) }),
      );
      expect(waitMs).toBe(requeueDelayMs(waits));
      expect([...judged]).toEqual([
        [0, { ifVersion: 1, outcome: { state: 'reasked', reason: UNDECIDED_OTHER_WRITER }, waitMs }],
      ]);
    }
  });

  it('after its last wait, or with nobody of ours unrecorded, the conflict stands (not in the map)', () => {
    const spent = own({ pending: new Set([1]), requeues: new Map([[1, REQUEUE_LIMIT]]) });
    expect(judgeConflicts([member(1)], [closeImap(1)], [conflictAt2(1)], spent).size).toBe(0);
    expect(judgeConflicts([member(1)], [closeImap(1)], [conflictAt2(1)], own({})).size).toBe(0);
  });

  it('judges only conflicts that carry a state and a version, of members with a version, item by item', () => {
    const members = [member(1), member(2, null), member(3), member(4)];
    const items = members.map((m) => closeImap(m.accountId));
    const results: BatchItemResult[] = [
      { account: 'user1@example.test', status: 'applied', protocols: { imap: false, pop3: true }, version: 2 },
      conflictAt2(2),
      { account: 'user3@example.test', status: 'conflict' },
      conflictAt2(4),
    ];
    const judged = judgeConflicts(members, items, results, own({ writes: [1, 2, 3, 4].map(bRecorded) }));
    expect([...judged.keys()]).toEqual([3]);
  });
});
