import type { BatchItem, BatchItemResult } from '../mailstore.types';
import { accountsToKick } from './session-kicks';

const off = (account: string, ifVersion?: number): BatchItem => ({
  account,
  protocols: { imap: false },
  ...(ifVersion === undefined ? {} : { ifVersion }),
});
const state = (imap: boolean, pop3 = false) => ({ imap, pop3 });

describe('accountsToKick: whose sessions a batch with revokeSessions ends', () => {
  const items = [off('turned'), off('already'), off('moved', 3), off('reopened', 3), off('missing'), off('turned')];
  const results: BatchItemResult[] = [
    { account: 'turned', status: 'applied', previous: state(true), protocols: state(false), version: 4 },
    { account: 'already', status: 'unchanged', previous: state(false), protocols: state(false), version: 4 },
    // Our own earlier attempt wrote it: the version moved past ifVersion, the state is the one asked for.
    { account: 'moved', status: 'conflict', protocols: state(false, true), version: 4 },
    // Someone enabled IMAP again since: not ours to end.
    { account: 'reopened', status: 'conflict', protocols: state(true), version: 5 },
    { account: 'missing', status: 'not_found' },
    { account: 'turned', status: 'invalid', error: { code: 'duplicate_account' } },
  ];

  it('on a first attempt, only the items this attempt turned from on to off', () => {
    expect(accountsToKick(items, results, false)).toEqual(['turned']);
  });

  it('on an attempt in doubt, every item whose desired state turns a protocol off that is off now', () => {
    expect(accountsToKick(items, results, true)).toEqual(['turned', 'already', 'moved']);
  });

  it('never for a desired state that turns nothing off (a wave going forward)', () => {
    const on: BatchItem[] = [{ account: 'a', protocols: { imap: true } }];
    const answer: BatchItemResult[] = [
      { account: 'a', status: 'applied', previous: state(false), protocols: state(true), version: 2 },
    ];
    expect(accountsToKick(on, answer, true)).toEqual([]);
  });
});
