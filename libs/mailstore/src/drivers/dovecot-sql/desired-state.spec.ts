import {
  decideItem,
  fingerprintVersion,
  firstOccurrences,
  formatProtocolList,
  parseProtocolList,
  type FlagRow,
} from './desired-state';

const row = (imap: boolean, pop3: boolean, version = 7): FlagRow => ({ login: 'a@x', imap, pop3, version });

describe('decideItem: the one rule of a batch item', () => {
  it('applies a desired state that differs, touching only the protocols named', () => {
    expect(decideItem({ account: 'a@x', protocols: { imap: true } }, [row(false, true)])).toEqual({
      status: 'applied',
      previous: row(false, true),
      next: { imap: true, pop3: true },
    });
  });

  it('answers unchanged when the state is already so: a replay changes nothing (never a toggle)', () => {
    expect(decideItem({ account: 'a@x', protocols: { imap: true, pop3: false } }, [row(true, false)]).status).toBe(
      'unchanged',
    );
    expect(decideItem({ account: 'a@x', protocols: {} }, [row(true, false)]).status).toBe('unchanged');
  });

  it('refuses a stale ifVersion as a conflict carrying the current state, and applies a matching one', () => {
    expect(decideItem({ account: 'a@x', protocols: { imap: false }, ifVersion: 6 }, [row(true, true)])).toEqual({
      status: 'conflict',
      current: row(true, true),
      expected: 6,
    });
    expect(decideItem({ account: 'a@x', protocols: { imap: false }, ifVersion: 7 }, [row(true, true)]).status).toBe(
      'applied',
    );
    // A conflict wins over unchanged: the caller learns that somebody else moved the account.
    expect(decideItem({ account: 'a@x', protocols: { imap: true }, ifVersion: 6 }, [row(true, true)]).status).toBe(
      'conflict',
    );
  });

  it('says not_found without a row and ambiguous with several', () => {
    expect(decideItem({ account: 'a@x', protocols: { imap: true } }, [])).toEqual({ status: 'not_found' });
    expect(
      decideItem({ account: 'a@x', protocols: { imap: true } }, [row(false, false), row(true, true)]),
    ).toMatchObject({
      status: 'invalid',
      code: 'ambiguous_account',
    });
  });
});

describe('batch helpers', () => {
  it('keeps the first occurrence of an account', () => {
    const first = firstOccurrences([
      { account: 'a', protocols: {} },
      { account: 'b', protocols: {} },
      { account: 'a', protocols: {} },
    ]);
    expect([...first]).toEqual([
      ['a', 0],
      ['b', 1],
    ]);
  });

  it('gives each state its own fingerprint version when there is no version column', () => {
    const all = [false, true].flatMap((imap) => [false, true].map((pop3) => fingerprintVersion({ imap, pop3 })));
    expect(new Set(all).size).toBe(4);
    expect(Math.min(...all)).toBeGreaterThanOrEqual(1);
  });
});

describe('the list layout', () => {
  it('reads names separated by commas and/or spaces, case-insensitively; NULL allows nothing', () => {
    expect(parseProtocolList('IMAP, smtp')).toEqual({ imap: true, pop3: false });
    expect(parseProtocolList('pop3 imap')).toEqual({ imap: true, pop3: true });
    expect(parseProtocolList(null)).toEqual({ imap: false, pop3: false });
    expect(parseProtocolList('imaps,pop')).toEqual({ imap: false, pop3: false });
  });

  it('writes the switches back keeping every other name in its order and spelling', () => {
    expect(formatProtocolList('smtp, IMAP sieve', { imap: false, pop3: true })).toBe('smtp,sieve,pop3');
    expect(formatProtocolList(null, { imap: true, pop3: true })).toBe('imap,pop3');
    expect(formatProtocolList('imap,pop3', { imap: false, pop3: false })).toBe('');
    const text = formatProtocolList('lmtp', { imap: true, pop3: false });
    expect(parseProtocolList(text)).toEqual({ imap: true, pop3: false });
  });
});
