import { setTimeout as sleep } from 'node:timers/promises';
import {
  createPassdbDatabase,
  holdImapSession,
  imapLogin,
  pop3Login,
  owedKickReplayResults,
  runOwedKickScenario,
  type OwedKickOptions,
  startPrivateDovecot,
  type PassdbDatabase,
  type PassdbDialect,
  type PrivateDovecot,
} from '@app/testing';
import { DovecotSqlMailstore } from './dovecot-sql.mailstore';

/**
 * The driver proven by real logins: a private Dovecot whose SQL passdb runs deploy/dovecot/'s example query on a
 * database of the test's own; the driver writes that database; a real IMAP/POP3 client asks Dovecot. Assertions are
 * on Dovecot's answers, not on the driver's view.
 */
const CLOSED = /access is not open yet/;

describe.each<PassdbDialect>(['postgres', 'mysql'])('dovecot-sql on %s, real logins', (dialect) => {
  let passdb: PassdbDatabase;
  let dovecot: PrivateDovecot;
  let driver: DovecotSqlMailstore;
  const accounts = ['ann@example.test', 'bob@example.test', 'cid@example.test'].map((login) => ({
    login,
    password: `pw of ${login.split('@')[0]}`,
  }));
  const [ann, bob, cid] = accounts;
  let seq = 0;
  const key = () => `logins-${dialect}-${++seq}`;

  beforeAll(async () => {
    passdb = await createPassdbDatabase(dialect, 'columns');
    await passdb.addAccounts(accounts);
    dovecot = await startPrivateDovecot(passdb);
    driver = new DovecotSqlMailstore({
      url: passdb.url,
      table: passdb.table,
      loginColumn: 'email',
      flags: { kind: 'columns', imap: 'imap_enabled', pop3: 'pop3_enabled' },
      versionColumn: 'access_version',
      doveadm: { url: dovecot.doveadmUrl, apiKey: dovecot.doveadmApiKey },
    });
  });

  afterAll(async () => {
    await driver?.close();
    await dovecot?.stop();
    await passdb?.drop();
  });

  it('refuses every account over IMAP and POP3, saying why, the same with a wrong password', async () => {
    for (const a of accounts) {
      const imap = await imapLogin(dovecot.imapPort, a.login, a.password);
      const pop3 = await pop3Login(dovecot.pop3Port, a.login, a.password);
      expect({ imap, pop3 }).toEqual({
        imap: { ok: false, line: expect.stringMatching(CLOSED) },
        pop3: { ok: false, line: expect.stringMatching(CLOSED) },
      });
    }
    // The same answer whatever the password: answered only to the right one, it would tell whoever holds the leaked
    // list which of its passwords still work, on accounts that are closed.
    const wrong = await imapLogin(dovecot.imapPort, ann.login, 'not the password');
    expect(wrong).toEqual({ ok: false, line: expect.stringMatching(CLOSED) });
  });

  it('lets IMAP in once the driver enables it, and only IMAP, only for that account', async () => {
    const out = await driver.batch([{ account: ann.login, protocols: { imap: true } }], {}, { idempotencyKey: key() });
    expect(out).toMatchObject({ kind: 'ok', value: { results: [{ status: 'applied' }] } });
    expect((await imapLogin(dovecot.imapPort, ann.login, ann.password)).ok).toBe(true);
    // Open, a wrong password is an ordinary failure.
    const wrong = await imapLogin(dovecot.imapPort, ann.login, 'not the password');
    expect(wrong.ok).toBe(false);
    expect(wrong.line).not.toMatch(CLOSED);
    expect(await pop3Login(dovecot.pop3Port, ann.login, ann.password)).toEqual({
      ok: false,
      line: expect.stringMatching(CLOSED),
    });
    expect((await imapLogin(dovecot.imapPort, bob.login, bob.password)).ok).toBe(false);
    expect((await imapLogin(dovecot.imapPort, cid.login, cid.password)).ok).toBe(false);
  });

  it('lets POP3 in separately', async () => {
    const out = await driver.batch([{ account: bob.login, protocols: { pop3: true } }], {}, { idempotencyKey: key() });
    expect(out).toMatchObject({ kind: 'ok', value: { results: [{ status: 'applied' }] } });
    expect((await pop3Login(dovecot.pop3Port, bob.login, bob.password)).ok).toBe(true);
    expect((await imapLogin(dovecot.imapPort, bob.login, bob.password)).ok).toBe(false);
  });

  it('ends a live IMAP session within 2 s of a disable with revokeSessions, and refuses the next login', async () => {
    const session = await holdImapSession(dovecot.imapPort, ann.login, ann.password);
    try {
      const asked = performance.now();
      const out = await driver.batch(
        [
          { account: ann.login, protocols: { imap: false } },
          { account: cid.login, protocols: { imap: false } },
        ],
        { revokeSessions: true },
        { idempotencyKey: key() },
      );
      expect(out).toMatchObject({
        kind: 'ok',
        value: {
          results: [
            { status: 'applied', previous: { imap: true }, protocols: { imap: false }, sessions: 'revoked' },
            { status: 'unchanged', sessions: 'none' },
          ],
        },
      });
      const closedAt = await Promise.race([session.closed, sleep(5_000, NaN, { ref: false })]);
      expect(closedAt - asked).toBeLessThan(2_000);
      expect(session.lines.join('\n')).toMatch(/BYE/);
    } finally {
      session.close();
    }
    expect(await imapLogin(dovecot.imapPort, ann.login, ann.password)).toEqual({
      ok: false,
      line: expect.stringMatching(CLOSED),
    });
  });

  const storeFor = (doveadmUrl: string) =>
    new DovecotSqlMailstore({
      url: passdb.url,
      table: passdb.table,
      loginColumn: 'email',
      flags: { kind: 'columns', imap: 'imap_enabled', pop3: 'pop3_enabled' },
      versionColumn: 'access_version',
      doveadm: { url: doveadmUrl, apiKey: dovecot.doveadmApiKey },
    });

  it.each<[string, OwedKickOptions]>([
    ['by the same driver', {}],
    // As the engine's rollback sends it (ifVersion of the enable), by a driver that never saw the first attempt.
    ['after a restart, by a fresh driver', { restart: true, ifVersion: true, idle: ann.login }],
  ])('owes the kick of a write whose doveadm call failed to the replay in doubt, %s', async (_, options) => {
    const seen = await runOwedKickScenario(dovecot, cid, storeFor, options);
    // Written, sessions not ended: in doubt for the engine, which resends under the same key; the replay changes
    // no switch and ends the session it owed, and every right-password login is refused.
    expect(seen).toMatchObject({
      whileShut: { kind: 'retryable', outcomeUnknown: true },
      loginAfterWrite: { ok: false, line: expect.stringMatching(CLOSED) },
      sessionSurvivedTheWrite: true,
      replay: { kind: 'ok', value: { results: owedKickReplayResults(options) } },
      loginAfterReplay: { ok: false, line: expect.stringMatching(CLOSED) },
    });
    expect(seen.sessionEndedMs).toBeLessThan(2_000);
  });
});
