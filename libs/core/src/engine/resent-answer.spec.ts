import { BatchItem, BatchItemResult } from '@app/mailstore';
import { presumedOwn, readBackAnswer, resentAnswer, toldByReads } from './resent-answer';

const at = '2026-05-09T06:00:00.000Z';
const forward = (n: number): BatchItem => ({ account: `user${n}@example.test`, protocols: { imap: true } });
const answer = (n: number, status: BatchItemResult['status'], imap: boolean, version?: number): BatchItemResult => ({
  account: `user${n}@example.test`,
  status,
  protocols: { imap, pop3: false },
  ...(version !== undefined ? { version, updatedAt: at } : {}),
});

describe('the answer to a batch resent in doubt, against the writes of our other writers', () => {
  const items = [forward(1), forward(2), forward(3), forward(4)];
  const results = [
    answer(1, 'unchanged', true, 8), // already as asked: ours, or another writer's
    answer(2, 'unchanged', true, 5),
    answer(3, 'applied', true, 3), // answered afresh: this attempt's own
    answer(4, 'unchanged', false, 2), // not as asked: never ours
  ];

  it('asks only about the items ownEarlierWrites would count as ours, with the version answered', () => {
    expect(presumedOwn(items, results, [11, 12, 13, 14])).toEqual([
      { index: 0, accountId: 11, version: 8 },
      { index: 1, accountId: 12, version: 5 },
    ]);
    // No version told: nothing to match a write against.
    expect(presumedOwn([forward(1)], [answer(1, 'unchanged', true)], [11])).toEqual([]);
  });

  it('keeps an item another writer of ours made as answered, and counts the others as ours', () => {
    const read = resentAnswer(items, results, new Set([1]));
    expect(read.map((r) => r.status)).toEqual(['applied', 'unchanged', 'applied', 'unchanged']);
    expect(read[1]).toBe(results[1]);
    expect(resentAnswer(items, results, new Set()).map((r) => r.status)).toEqual([
      'applied',
      'applied',
      'applied',
      'unchanged',
    ]);
  });
});

describe('a resend in doubt refused outright, answered from a read of each account', () => {
  const items = [forward(1), forward(2), forward(3)];
  const read = (n: number, imap: boolean, version: number) => ({
    account: `user${n}@example.test`,
    protocols: { imap, pop3: false },
    version,
    updatedAt: at,
  });
  const refused: BatchItemResult[] = [1, 2, 3].map((n) => ({
    account: `user${n}@example.test`,
    status: 'invalid',
    error: { code: 'http_413_batch_too_large' },
  }));

  it('as asked: our earlier attempt (applied) or another writer’s (unchanged); otherwise the refusal', () => {
    const told = toldByReads([read(1, true, 4), read(2, true, 9), read(3, false, 2)]);
    expect(told[0]).toEqual({ ...answer(1, 'unchanged', true, 4) });
    expect(presumedOwn(items, told, [11, 12, 13]).map((p) => p.index)).toEqual([0, 1]);
    const answered = readBackAnswer(items, told, new Set([1]), refused);
    expect(answered!.map((r) => r.status)).toEqual(['applied', 'unchanged', 'invalid']);
    expect(answered![0]).toMatchObject({ version: 4, protocols: { imap: true } });
    expect(answered![2]).toBe(refused[2]);
  });

  it('a refusal about the call (null) answers only when every account read is as asked', () => {
    const mixed = toldByReads([read(1, true, 4), read(2, true, 9), read(3, false, 2)]);
    expect(readBackAnswer(items, mixed, new Set([1]), null)).toBeNull();
    const all = toldByReads([read(1, true, 4), read(2, true, 9), read(3, true, 2)]);
    expect(readBackAnswer(items, all, new Set([1]), null)!.map((r) => r.status)).toEqual([
      'applied',
      'unchanged',
      'applied',
    ]);
  });
});
