import { readBackMismatch } from './read-back';

describe('readBackMismatch (eventual propagation read-back)', () => {
  const both = ['imap', 'pop3'] as const;

  it('is a mismatch when a wanted protocol is still off at the version the wave wrote (or before it)', () => {
    expect(readBackMismatch(both, { protocols: { imap: true, pop3: false }, version: 7 }, 7)).toBe(true);
    expect(readBackMismatch(both, { protocols: { imap: false, pop3: false }, version: 6 }, 7)).toBe(true);
    expect(readBackMismatch(both, { protocols: { imap: true, pop3: true }, version: 7 }, 7)).toBe(false);
  });

  it('is no mismatch when a later write (the reaction, support) closed the account again', () => {
    expect(readBackMismatch(both, { protocols: { imap: false, pop3: false }, version: 8 }, 7)).toBe(false);
  });

  it('without a recorded version, the protocols alone decide', () => {
    expect(readBackMismatch(['imap'], { protocols: { imap: false }, version: 99 }, null)).toBe(true);
    expect(readBackMismatch(['imap'], { protocols: { imap: true }, version: 99 }, null)).toBe(false);
  });
});
