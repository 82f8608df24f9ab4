/**
 * Real logins (issue 18): a private Dovecot whose passdbs are deploy/dovecot-ldap's example (only the server's
 * address and credentials replaced) asks a private slapd; the driver flips the switches; an IMAP and a POP3 client
 * assert on Dovecot's own answers: refused before, allowed after the driver enables the protocol, refused again
 * after it disables it, and a live IMAP session ended through the doveadm HTTP API.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  holdImapSession,
  imapLogin,
  pop3Login,
  PrivateSlapd,
  owedKickReplayResults,
  runOwedKickScenario,
  type OwedKickOptions,
  startPrivateDovecot,
  type PrivateDovecot,
  validSettings,
} from '@app/testing';
import type { Outcome } from '../../outcome';
import { LdapMailstore } from './ldap.mailstore';
import { ldapMailstoreOptions } from './ldap.driver';
import { LdapSettings } from './ldap.settings';

const REFUSED = /^a\d* NO \[CONTACTADMIN\]/;
const OFF = { reopenImapEnabled: 'FALSE', reopenPop3Enabled: 'FALSE' };
const ALICE = { login: 'alice@example.test', password: 'alice-pw', attributes: OFF };
const BOB = { login: 'bob@example.test', password: 'bob-pw', attributes: OFF };
const CAROL = { login: 'carol@example.test', password: 'carol-pw', attributes: OFF };

let slapd: PrivateSlapd;
let dovecot: PrivateDovecot;
let store: LdapMailstore;
const key = { idempotencyKey: 'login-test' };
const storeWith = (doveadmUrl: string) =>
  new LdapMailstore(
    ldapMailstoreOptions(
      validSettings(LdapSettings, {
        ...slapd.driverEnv(),
        DOVEADM_URL: doveadmUrl,
        DOVEADM_API_KEY: dovecot.doveadmApiKey,
      }),
    ),
  );

beforeAll(async () => {
  slapd = await PrivateSlapd.start([ALICE, BOB, CAROL]);
  dovecot = await startPrivateDovecot(slapd);
  store = storeWith(dovecot.doveadmUrl);
}, 30_000);

afterAll(async () => {
  await store?.close();
  await dovecot?.stop();
  await slapd?.stop();
});

function ok<T>(outcome: Outcome<T>): T {
  if (outcome.kind !== 'ok') throw new Error(`expected ok, got ${JSON.stringify(outcome)}`);
  return outcome.value;
}

const imap = async (a: { login: string; password: string }) =>
  (await imapLogin(dovecot.imapPort, a.login, a.password)).line;
const pop3 = async (a: { login: string; password: string }) =>
  (await pop3Login(dovecot.pop3Port, a.login, a.password)).line;

describe('Dovecot with an LDAP passdb, switched by the ldap driver', () => {
  it('refuses both protocols before, opens exactly what the driver enables, and refuses again after it disables', async () => {
    expect(await imap(ALICE)).toMatch(/^a\d* NO \[CONTACTADMIN\] imap access is not reopened/);
    expect(await pop3(ALICE)).toMatch(/^-ERR \[AUTH\] pop3 access is not reopened/);
    // A closed account answers the same whatever the password: no telling, from the leaked list, which still work.
    const wrong = { ...ALICE, password: 'leaked-but-changed' };
    expect(await imap(wrong)).toMatch(/^a\d* NO \[CONTACTADMIN\] imap access is not reopened/);
    expect(await pop3(wrong)).toMatch(/^-ERR \[AUTH\] pop3 access is not reopened/);

    ok(await store.batch([{ account: ALICE.login, protocols: { imap: true } }], {}, key));
    expect(await imap(ALICE)).toMatch(/^a\d* OK /);
    expect(await imap({ ...ALICE, password: 'wrong' })).toMatch(/^a\d* NO \[AUTHENTICATIONFAILED\]/);
    expect(await pop3(ALICE)).toMatch(/^-ERR /);
    expect(await imap(BOB)).toMatch(/^a\d* NO /);

    ok(await store.batch([{ account: ALICE.login, protocols: { imap: false, pop3: true } }], {}, key));
    expect(await imap(ALICE)).toMatch(/^a\d* NO \[CONTACTADMIN\]/);
    expect(await pop3(ALICE)).toMatch(/^\+OK /);

    ok(await store.batch([{ account: ALICE.login, protocols: { pop3: false } }], {}, key));
    expect(await pop3(ALICE)).toMatch(/^-ERR \[AUTH\]/);
  });

  it('ends a live IMAP session within 2 s when the driver turns IMAP off with revokeSessions', async () => {
    ok(await store.batch([{ account: BOB.login, protocols: { imap: true } }], {}, key));
    const session = await holdImapSession(dovecot.imapPort, BOB.login, BOB.password);
    try {
      const started = performance.now();
      const batch = ok(
        await store.batch([{ account: BOB.login, protocols: { imap: false } }], { revokeSessions: true }, key),
      );
      expect(batch.results[0]).toMatchObject({ status: 'applied', sessions: 'revoked' });
      const closedAt = await Promise.race([session.closed, sleep(5_000, NaN, { ref: false })]);
      expect(closedAt - started).toBeLessThan(2_000);
    } finally {
      session.close();
    }
    expect(await imap(BOB)).toMatch(/^a\d* NO \[CONTACTADMIN\]/);
    // Nothing left to end: the contract's `none`.
    ok(await store.batch([{ account: BOB.login, protocols: { imap: true } }], {}, key));
    const again = ok(
      await store.batch([{ account: BOB.login, protocols: { imap: false } }], { revokeSessions: true }, key),
    );
    expect(again.results[0]).toMatchObject({ status: 'applied', sessions: 'none' });
  });

  it.each<[string, OwedKickOptions]>([
    ['by the same driver', {}],
    // As the engine's rollback sends it (ifVersion of the enable), by a driver that never saw the first attempt.
    ['after a restart, by a fresh driver', { restart: true, ifVersion: true, idle: ALICE.login }],
  ])('owes the kick of a write whose doveadm call failed to the replay in doubt, %s', async (_, options) => {
    const seen = await runOwedKickScenario(dovecot, CAROL, storeWith, options);
    // Written, sessions not ended: in doubt for the engine, which resends under the same key; the replay changes
    // no switch and ends the session it owed, and every right-password login is refused.
    expect(seen).toMatchObject({
      whileShut: { kind: 'retryable', outcomeUnknown: true },
      loginAfterWrite: { ok: false, line: expect.stringMatching(REFUSED) },
      sessionSurvivedTheWrite: true,
      replay: { kind: 'ok', value: { results: owedKickReplayResults(options) } },
      loginAfterReplay: { ok: false, line: expect.stringMatching(REFUSED) },
    });
    expect(seen.sessionEndedMs).toBeLessThan(2_000);
  });
});
