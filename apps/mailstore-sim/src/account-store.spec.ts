import { AccountStore, IMAP, POP3 } from './account-store';
import { applyDesired, IMAP_ON, IMAP_SET, POP3_SET, turnsSomethingOff } from './desired-state';
import { hashLogin, LoginIndex } from './login-index';

describe('LoginIndex', () => {
  it('finds every login it was given, through growth and rehashing', () => {
    const index = new LoginIndex();
    const logins = Array.from({ length: 50_000 }, (_, n) => `person.${n}@domain-${n % 7}.example`);
    logins.forEach((login, i) => expect(index.add(login)).toBe(i));
    expect(index.size).toBe(logins.length);
    for (let i = 0; i < logins.length; i += 997) {
      // A copy built at run time, as JSON.parse hands them over: equal content, another string.
      const copy = [logins[i].slice(0, 3), logins[i].slice(3)].join('');
      expect(index.find(copy)).toBe(i);
    }
    expect(index.find('nobody@domain-1.example')).toBe(-1);
  });

  it('returns the existing index for a login added twice', () => {
    const index = new LoginIndex();
    index.add('a@b');
    expect(index.add('a@b')).toBe(0);
    expect(index.size).toBe(1);
  });

  it('tells logins apart even when their hashes collide in the table', () => {
    const index = new LoginIndex();
    index.reserve(10);
    const logins = Array.from({ length: 300 }, (_, n) => `u${n}`);
    logins.forEach((login) => index.add(login));
    logins.forEach((login, i) => expect(index.find(login)).toBe(i));
    expect(index.loginAt(299)).toBe('u299');
  });

  it('hashes to 32-bit unsigned integers', () => {
    for (const login of ['', 'a', 'user1@example.test', 'é@ü.de']) {
      const h = hashLogin(login);
      expect(Number.isInteger(h) && h >= 0 && h < 2 ** 32).toBe(true);
    }
  });
});

describe('AccountStore', () => {
  it('starts accounts with every protocol off at version 1', () => {
    const store = new AccountStore();
    const i = store.add('user1@example.test', Date.parse('2026-05-08T00:00:00Z'));
    expect(store.view(i)).toEqual({
      protocols: { imap: false, pop3: false },
      version: 1,
      updatedAt: '2026-05-08T00:00:00.000Z',
      sessions: 0,
    });
  });

  it('keeps state across growth of its arrays', () => {
    const store = new AccountStore();
    const first = store.add('first@example.test');
    store.flags[first] = IMAP | POP3;
    store.versions[first] = 9;
    for (let n = 0; n < 5000; n++) store.add(`n${n}@example.test`);
    expect(store.view(first)).toMatchObject({ protocols: { imap: true, pop3: true }, version: 9 });
    expect(store.size).toBe(5001);
  });

  it('detects duplicates within one stamp only', () => {
    const store = new AccountStore();
    const i = store.add('a@b');
    store.nextStamp();
    expect(store.markSeen(i)).toBe(true);
    expect(store.markSeen(i)).toBe(false);
    store.nextStamp();
    expect(store.markSeen(i)).toBe(true);
  });
});

describe('desired state', () => {
  it('touches only the protocols sent', () => {
    expect(applyDesired(IMAP | POP3, IMAP_SET)).toBe(POP3); // imap:false
    expect(applyDesired(0, IMAP_SET | IMAP_ON)).toBe(IMAP);
    expect(applyDesired(IMAP, POP3_SET)).toBe(IMAP);
  });

  it('sees on-to-off transitions only', () => {
    expect(turnsSomethingOff(IMAP, 0)).toBe(true);
    expect(turnsSomethingOff(IMAP, POP3)).toBe(true);
    expect(turnsSomethingOff(0, IMAP)).toBe(false);
    expect(turnsSomethingOff(IMAP, IMAP | POP3)).toBe(false);
  });
});
