/**
 * The ldap driver's promises against a real OpenLDAP (a private slapd per file): desired-state writes and their
 * replay, ifVersion conflicts, a concurrent change caught by the assertion control, not_found, partial batches,
 * an unreachable or frozen directory, the bounded pool. Effects are asserted on the directory (read as its admin).
 */
import { freeLoopbackPort, pollUntil, PrivateSlapd, validSettings } from '@app/testing';
import { Client } from 'ldapts';
import type { BatchItemResult } from '../../mailstore.types';
import type { Outcome } from '../../outcome';
import { LdapMailstore } from './ldap.mailstore';
import { ldapMailstoreOptions } from './ldap.driver';
import { LdapSettings } from './ldap.settings';

const OFF = { reopenImapEnabled: 'FALSE', reopenPop3Enabled: 'FALSE' };
const accounts = Array.from({ length: 8 }, (_, i) => ({
  login: `user${i}@example.test`,
  password: `pw-${i}`,
  attributes: i === 7 ? { ...OFF, reopenAccessVersion: '41' } : OFF,
}));
const movedAccounts = [
  { login: 'moved0@example.test', password: 'pw', attributes: OFF },
  // The version attribute given a starting value by hand when the schema was added.
  { login: 'zero0@example.test', password: 'pw', attributes: { ...OFF, reopenAccessVersion: '0' } },
];
const listAccounts = [
  { login: 'list0@example.test', password: 'pw', attributes: { reopenAllowedProtocol: ['sieve'] } },
  { login: 'list1@example.test', password: 'pw', attributes: { reopenAllowedProtocol: ['imap', 'pop3'] } },
];

let slapd: PrivateSlapd;
const stores: LdapMailstore[] = [];
const key = { idempotencyKey: 'test-key' };

function driver(env: Record<string, string> = {}, mode: 'attributes' | 'list' = 'attributes'): LdapMailstore {
  const store = new LdapMailstore(
    ldapMailstoreOptions(validSettings(LdapSettings, { ...slapd.driverEnv(mode), ...env })),
  );
  stores.push(store);
  return store;
}

function ok<T>(outcome: Outcome<T>): T {
  if (outcome.kind !== 'ok') throw new Error(`expected ok, got ${JSON.stringify(outcome)}`);
  return outcome.value;
}

async function switches(login: string) {
  const e = await slapd.entry(login);
  return { imap: e.reopenImapEnabled?.[0], pop3: e.reopenPop3Enabled?.[0], version: e.reopenAccessVersion?.[0] };
}

beforeAll(async () => {
  slapd = await PrivateSlapd.start([...accounts, ...movedAccounts, ...listAccounts]);
});

afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.destroy()));
});

afterAll(async () => {
  await slapd?.stop();
});

describe('LdapMailstore on OpenLDAP', () => {
  it('advertises conditional updates, immediate propagation, and no revocation without doveadm', async () => {
    const caps = ok(await driver().capabilities());
    expect(caps).toMatchObject({ conditionalUpdates: true, revokeSessions: false, protocols: ['imap', 'pop3'] });
    expect(caps.propagation).toEqual({ mode: 'immediate', maxSeconds: 0 });
  });

  it('probe: up while the directory answers; a missing base DN, a wrong bind or no server says the directory', async () => {
    expect(await driver().probe()).toEqual({ up: true });
    expect(await driver({}, 'list').probe()).toEqual({ up: true });
    const dead = await freeLoopbackPort();
    for (const env of [
      { LDAP_BASE_DN: 'ou=nowhere,dc=example,dc=test' } as Record<string, string>,
      { LDAP_BIND_PASSWORD: 'not-the-password' },
      { LDAP_URL: `ldap://127.0.0.1:${dead}` },
    ]) {
      const probe = await driver(env).probe();
      expect(probe).toMatchObject({ up: false, part: 'directory', reason: expect.any(String) });
      expect(JSON.stringify(probe)).not.toContain('not-the-password');
    }
  });

  it('reads an account: its switches and version (0 before the driver wrote it); unknown → account_not_found', async () => {
    const store = driver();
    expect(ok(await store.getAccess('user7@example.test'))).toMatchObject({
      account: 'user7@example.test',
      protocols: { imap: false, pop3: false },
      version: 41,
      etag: 41,
    });
    expect(ok(await store.getAccess('user6@example.test')).version).toBe(0);
    expect(await store.getAccess('nobody@example.test')).toMatchObject({
      kind: 'permanent',
      status: 404,
      code: 'account_not_found',
    });
  });

  it('writes the desired state with previous, raises the version by one, and a replay is unchanged', async () => {
    const store = driver();
    const items = [{ account: 'user0@example.test', protocols: { imap: true, pop3: true } }];
    const first = ok(await store.batch(items, {}, key));
    expect(first.results[0]).toMatchObject({
      status: 'applied',
      previous: { imap: false, pop3: false },
      protocols: { imap: true, pop3: true },
      version: 1,
    });
    expect(await switches('user0@example.test')).toEqual({ imap: 'TRUE', pop3: 'TRUE', version: '1' });

    const replay = ok(await store.batch(items, {}, key));
    expect(replay.results[0]).toMatchObject({
      status: 'unchanged',
      previous: { imap: true, pop3: true },
      protocols: { imap: true, pop3: true },
      version: 1,
    });
    expect(replay.summary).toEqual({ applied: 0, unchanged: 1, failed: 0 });
    expect(await switches('user0@example.test')).toEqual({ imap: 'TRUE', pop3: 'TRUE', version: '1' });
  });

  it('writes an entry whose version attribute holds 0 (not absent): never a conflict with itself', async () => {
    const store = driver();
    const result = ok(await store.batch([{ account: 'zero0@example.test', protocols: { imap: true } }], {}, key));
    expect(result.results[0]).toMatchObject({ status: 'applied', previous: { imap: false }, version: 1 });
    expect(await switches('zero0@example.test')).toEqual({ imap: 'TRUE', pop3: 'FALSE', version: '1' });
  });

  it('touches only the protocols named', async () => {
    const store = driver();
    ok(await store.batch([{ account: 'user1@example.test', protocols: { pop3: true } }], {}, key));
    expect(await switches('user1@example.test')).toEqual({ imap: 'FALSE', pop3: 'TRUE', version: '1' });
  });

  it('answers conflict with the current state when ifVersion no longer holds, and changes nothing', async () => {
    const store = driver();
    const item = { account: 'user7@example.test', protocols: { imap: true }, ifVersion: 40 };
    const result = ok(await store.batch([item], {}, key)).results[0];
    expect(result).toMatchObject({ status: 'conflict', version: 41, protocols: { imap: false, pop3: false } });
    expect(await switches('user7@example.test')).toEqual({ imap: 'FALSE', pop3: 'FALSE', version: '41' });

    const matching = ok(await store.batch([{ ...item, ifVersion: 41 }], {}, key)).results[0];
    expect(matching).toMatchObject({ status: 'applied', version: 42 });
  });

  it('catches a change made between its read and its write (assertion control): conflict with ifVersion, else re-decided', async () => {
    const store = driver();
    const realModify = Client.prototype.modify;
    // Another writer (the support tool, by hand) changes the entry after the driver's search, before its modify.
    const spy = jest.spyOn(Client.prototype, 'modify').mockImplementation(async function (this: Client, ...args) {
      spy.mockRestore();
      await slapd.replace('user2@example.test', { reopenPop3Enabled: ['TRUE'], reopenAccessVersion: ['5'] });
      return realModify.apply(this, args);
    });
    const conflict = ok(
      await store.batch([{ account: 'user2@example.test', protocols: { imap: true }, ifVersion: 0 }], {}, key),
    );
    expect(conflict.results[0]).toMatchObject({
      status: 'conflict',
      version: 5,
      protocols: { imap: false, pop3: true },
    });
    expect(await switches('user2@example.test')).toEqual({ imap: 'FALSE', pop3: 'TRUE', version: '5' });

    const spy2 = jest.spyOn(Client.prototype, 'modify').mockImplementation(async function (this: Client, ...args) {
      spy2.mockRestore();
      await slapd.replace('user2@example.test', { reopenPop3Enabled: ['FALSE'], reopenAccessVersion: ['6'] });
      return realModify.apply(this, args);
    });
    const redecided = ok(
      await store.batch([{ account: 'user2@example.test', protocols: { imap: true, pop3: false } }], {}, key),
    );
    // previous is the state the modify replaced (the other writer's), not the one first read.
    expect(redecided.results[0]).toMatchObject({
      status: 'applied',
      previous: { imap: false, pop3: false },
      version: 7,
    });
    expect(await switches('user2@example.test')).toEqual({ imap: 'TRUE', pop3: 'FALSE', version: '7' });
  });

  it('finds an entry moved between its read and its write by its login again: never not_found while it is there', async () => {
    const store = driver();
    ok(await store.batch([{ account: 'moved0@example.test', protocols: { imap: true } }], {}, key));
    expect(await switches('moved0@example.test')).toEqual({ imap: 'TRUE', pop3: 'FALSE', version: '1' });
    const realModify = Client.prototype.modify;
    // A directory reorganised by someone else: the entry moves to another OU after the search, before the modify.
    const spy = jest.spyOn(Client.prototype, 'modify').mockImplementation(async function (this: Client, ...args) {
      spy.mockRestore();
      await slapd.move('moved0@example.test');
      return realModify.apply(this, args);
    });
    // A rollback's item: the entry is closed where it now is, not reported unknown while it stays open.
    const rollback = ok(
      await store.batch([{ account: 'moved0@example.test', protocols: { imap: false }, ifVersion: 1 }], {}, key),
    );
    expect(rollback.results[0]).toMatchObject({ status: 'applied', previous: { imap: true }, version: 2 });
    expect(await switches('moved0@example.test')).toEqual({ imap: 'FALSE', pop3: 'FALSE', version: '2' });
  });

  it('answers each item of a partial batch on its own, in order', async () => {
    const store = driver();
    const batch = ok(
      await store.batch(
        [
          { account: 'user3@example.test', protocols: { imap: true } },
          { account: 'nobody@example.test', protocols: { imap: true } },
          { account: 'user4@example.test', protocols: { imap: true }, ifVersion: 9 },
          { account: 'user3@example.test', protocols: { pop3: true } },
          { account: 'user5@example.test', protocols: { smtp: true } as never },
          { account: 'USER6@example.test', protocols: { imap: false } },
        ],
        {},
        key,
      ),
    );
    const statuses = batch.results.map((r: BatchItemResult) => [r.account, r.status, r.error?.code]);
    expect(statuses).toEqual([
      ['user3@example.test', 'applied', undefined],
      ['nobody@example.test', 'not_found', 'account_not_found'],
      ['user4@example.test', 'conflict', 'version_mismatch'],
      ['user3@example.test', 'invalid', 'duplicate_account'],
      ['user5@example.test', 'invalid', 'unsupported_protocol'],
      ['USER6@example.test', 'unchanged', undefined],
    ]);
    expect(batch.summary).toEqual({ applied: 1, unchanged: 1, failed: 4 });
    expect(await switches('user3@example.test')).toEqual({ imap: 'TRUE', pop3: 'FALSE', version: '1' });
    expect(await switches('user4@example.test')).toEqual({ imap: 'FALSE', pop3: 'FALSE', version: undefined });
    expect(await switches('user5@example.test')).toEqual({ imap: 'FALSE', pop3: 'FALSE', version: undefined });
  });

  it('in list mode adds and removes its values and keeps the others', async () => {
    const store = driver({}, 'list');
    const batch = ok(
      await store.batch(
        [
          { account: 'list0@example.test', protocols: { imap: true, pop3: false } },
          { account: 'list1@example.test', protocols: { imap: false } },
        ],
        {},
        key,
      ),
    );
    expect(batch.results.map((r) => [r.status, r.previous, r.protocols])).toEqual([
      ['applied', { imap: false, pop3: false }, { imap: true, pop3: false }],
      ['applied', { imap: true, pop3: true }, { imap: false, pop3: true }],
    ]);
    expect((await slapd.entry('list0@example.test')).reopenAllowedProtocol.sort()).toEqual(['imap', 'sieve']);
    expect((await slapd.entry('list1@example.test')).reopenAllowedProtocol).toEqual(['pop3']);
  });

  it('refuses a write that missed its send window, and writes nothing', async () => {
    const store = driver();
    const outcome = await store.batch(
      [{ account: 'user6@example.test', protocols: { imap: true } }],
      {},
      { ...key, sendBy: performance.now() - 1 },
    );
    expect(outcome).toMatchObject({ kind: 'retryable', code: 'send_window_missed', outcomeUnknown: false });
    expect(await switches('user6@example.test')).toEqual({ imap: 'FALSE', pop3: 'FALSE', version: undefined });
  });

  it('keeps at most LDAP_POOL_SIZE connections to the directory, however many calls wait', async () => {
    const store = driver({ LDAP_POOL_SIZE: '2' });
    // The count once the earlier tests' connections (and the count's own admin binds) are closed on slapd's side:
    // read before that, a connection still closing made the count one short (CI).
    let last = -1;
    const before = await pollUntil(
      async () => {
        const [n, previous] = [await slapd.connections(), last];
        last = n;
        return n === previous ? n : undefined;
      },
      { timeoutMs: 5_000, intervalMs: 200, description: 'a settled connection count' },
    );
    const reads = await Promise.all(accounts.flatMap((a) => [store.getAccess(a.login), store.getAccess(a.login)]));
    expect(reads.every((r) => r.kind === 'ok')).toBe(true);
    // The pool keeps its two connections open (idle); the sixteen calls shared them.
    expect(await slapd.connections()).toBe(before + 2);
  });

  it('a wrong bind password is a permanent unauthorized, and the password is in no detail', async () => {
    const store = driver({ LDAP_BIND_PASSWORD: 'wrong-password-123' });
    const outcome = await store.getAccess('user0@example.test');
    expect(outcome).toMatchObject({ kind: 'permanent', status: 401, code: 'unauthorized' });
    expect(JSON.stringify(outcome)).not.toContain('wrong-password-123');
  });
});

describe('LdapMailstore on a directory that returns fewer entries per search than a batch has', () => {
  let small: PrivateSlapd;
  const logins = Array.from({ length: 8 }, (_, i) => `limited${i}@example.test`);

  beforeAll(async () => {
    // OpenLDAP's sizelimit (500 by default; Active Directory's MaxPageSize is 1000) under LDAP_MAX_BATCH_ITEMS.
    small = await PrivateSlapd.start(
      logins.map((login) => ({ login, password: 'pw', attributes: OFF })),
      { sizeLimit: 3 },
    );
  });
  afterAll(async () => {
    await small?.stop();
  });

  it('writes every item, never not_found for an entry the search limit cut off', async () => {
    const store = new LdapMailstore(ldapMailstoreOptions(validSettings(LdapSettings, small.driverEnv())));
    stores.push(store);
    const batch = ok(
      await store.batch(
        logins.map((account) => ({ account, protocols: { imap: true } })),
        {},
        key,
      ),
    );
    expect(batch.summary).toEqual({ applied: 8, unchanged: 0, failed: 0 });
    const open = await Promise.all(logins.map(async (l) => (await small.entry(l)).reopenImapEnabled?.[0]));
    expect(open).toEqual(logins.map(() => 'TRUE'));
  });
});

describe('LdapMailstore when doveadm is away', () => {
  it('writes the switch, answers retryable in doubt (the kick is owed to the replay), and never shows the key', async () => {
    const store = driver({
      DOVEADM_URL: `http://127.0.0.1:${await freeLoopbackPort()}`,
      DOVEADM_API_KEY: 'kick-key-42',
    });
    expect(store.cachedCapabilities().revokeSessions).toBe(true);
    ok(await store.batch([{ account: 'user4@example.test', protocols: { imap: true } }], {}, key));
    const off = await store.batch(
      [{ account: 'user4@example.test', protocols: { imap: false } }],
      { revokeSessions: true },
      key,
    );
    expect(off).toMatchObject({ kind: 'retryable', outcomeUnknown: true });
    expect((await slapd.entry('user4@example.test')).reopenImapEnabled).toEqual(['FALSE']);
    expect(JSON.stringify(off)).not.toContain('kick-key-42');
    expect(await store.revokeSessions('user4@example.test', key)).toMatchObject({ kind: 'retryable' });
  });
});

describe('LdapMailstore when the directory is away', () => {
  it('is retryable while the directory is down (nothing applied), and works again once it is back', async () => {
    const store = driver();
    ok(await store.getAccess('user0@example.test')); // a pooled connection exists, then dies with the server
    await slapd.kill();
    try {
      const items = [{ account: 'user6@example.test', protocols: { pop3: true } }];
      const write = await store.batch(items, {}, key);
      expect(write).toMatchObject({ kind: 'retryable', outcomeUnknown: false });
      expect(await store.getAccess('user0@example.test')).toMatchObject({ kind: 'retryable' });
    } finally {
      await slapd.restart();
    }
    const again = ok(await store.batch([{ account: 'user6@example.test', protocols: { pop3: true } }], {}, key));
    expect(again.results[0].status).toBe('applied');
  });

  it('a frozen directory is a retryable timeout, never ok', async () => {
    const store = driver({ LDAP_TIMEOUT_MS: '300', LDAP_CONNECT_TIMEOUT_MS: '300' });
    ok(await store.getAccess('user0@example.test'));
    await slapd.freeze();
    try {
      const outcome = await store.batch([{ account: 'user5@example.test', protocols: { pop3: true } }], {}, key);
      expect(outcome).toMatchObject({ kind: 'retryable', code: 'timeout', outcomeUnknown: false });
    } finally {
      slapd.thaw();
    }
    expect(await switches('user5@example.test')).toEqual({ imap: 'FALSE', pop3: 'FALSE', version: undefined });
  });

  it("the caller's abort ends a call the frozen directory would hold until its timeout", async () => {
    const store = driver({ LDAP_TIMEOUT_MS: '10000' });
    ok(await store.getAccess('user0@example.test'));
    await slapd.freeze();
    try {
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 100);
      const started = Date.now();
      const outcome = await store.getAccess('user0@example.test', { signal: controller.signal });
      expect(outcome).toMatchObject({ kind: 'retryable', code: 'aborted', outcomeUnknown: false });
      expect(Date.now() - started).toBeLessThan(2_000);
    } finally {
      slapd.thaw();
    }
    ok(await store.getAccess('user0@example.test'));
  });
});
