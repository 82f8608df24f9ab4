import {
  aWave,
  countersFromTruth,
  createEngineHarness,
  createPassdbDatabase,
  dovecotSqlEnv,
  EngineHarness,
  loginRange,
  PrivateSlapd,
  WorkerProcess,
} from '@app/testing';

const ACCOUNTS = 120;

/** A real mailstore: the driver's settings, the accounts among `logins` it has open, and how to stop it. */
interface Store {
  env: Record<string, string>;
  open(logins: readonly string[]): Promise<string[]>;
  stop(): Promise<void>;
}

async function passdbStore(versioned: boolean): Promise<Store> {
  const passdb = await createPassdbDatabase('postgres', 'columns');
  await passdb.addAccounts(loginRange(1, ACCOUNTS).map((login) => ({ login, password: 'secret' })));
  const { DOVECOT_SQL_VERSION_COLUMN: _version, ...unversioned } = dovecotSqlEnv(passdb);
  return {
    env: versioned ? dovecotSqlEnv(passdb) : unversioned,
    open: async (logins) =>
      (
        await passdb.query(
          'SELECT email FROM mail_users WHERE email = ANY(?::text[]) AND (imap_enabled OR pop3_enabled) ORDER BY email',
          [logins],
        )
      ).map((r) => r.email as string),
    stop: () => passdb.drop(),
  };
}

async function directoryStore(): Promise<Store> {
  const slapd = await PrivateSlapd.start(loginRange(1, ACCOUNTS).map((login) => ({ login, password: 'secret' })));
  return {
    env: { MAILSTORE_DRIVER: 'ldap', ...slapd.driverEnv() },
    open: async (logins) => {
      const open: string[] = [];
      for (const login of logins) {
        const e = await slapd.entry(login);
        if (e.reopenImapEnabled?.[0] === 'TRUE' || e.reopenPop3Enabled?.[0] === 'TRUE') open.push(login);
      }
      return open;
    },
    stop: () => slapd.stop(),
  };
}

/**
 * wave-overlap-rollback's story through the native drivers against real stores: A opens IMAP, B then POP3 on the same
 * accounts, both rolled back (A first; B first; both at once). dovecot-sql with a version column and ldap answer
 * versions that name writes; dovecot-sql without one answers a fingerprint of the switches, which comes back to an
 * earlier value when a rollback restores it: the chain of our writes (libs/domain rollback-reask.ts) must hold on
 * each. The store itself is the judge: every account closed.
 */
describe.each([
  ['dovecot-sql on PostgreSQL with a version column', () => passdbStore(true)],
  ['dovecot-sql on PostgreSQL without one (fingerprint versions)', () => passdbStore(false)],
  ['ldap on slapd', directoryStore],
])('rolling back two overlapping waves through %s (real store, PostgreSQL, Redis, worker process)', (_name, start) => {
  let h: EngineHarness;
  let store: Store;
  let worker: WorkerProcess;

  beforeAll(async () => {
    store = await start();
    h = await createEngineHarness('ovrnative', { accounts: 10 }, store.env);
    await h.importPopulation({ count: ACCOUNTS, seed: 44, leakedShare: 0 });
    worker = await WorkerProcess.start(h.env);
  });
  afterAll(async () => {
    await worker?.kill();
    await h?.close();
    await store?.stop();
  });

  async function twoWaves(tag: string, members: string[]) {
    const a = await aWave(`${tag}-a`).logins(members).protocols('imap').rate(1000).batchSize(10).started(h);
    await h.untilWaveState(a.id, 'completed');
    const b = await aWave(`${tag}-b`).logins(members).protocols('imap', 'pop3').rate(1000).batchSize(10).started(h);
    await h.untilWaveState(b.id, 'completed');
    expect(await store.open(members)).toHaveLength(members.length);
    return { a, b };
  }

  it('one after the other, in either order, and both at once: every account closed in the store', async () => {
    const groups = [loginRange(1, 30), loginRange(31, 60), loginRange(61, ACCOUNTS)];
    const waves = [];
    for (const [i, members] of groups.entries()) waves.push(await twoWaves(`g${i}`, members));
    // A then B; B then A; both at once.
    await h.commands.rollback(waves[0].a.id, 'ops:test');
    await h.untilWaveState(waves[0].a.id, 'rolled_back');
    await h.commands.rollback(waves[0].b.id, 'ops:test');
    await h.commands.rollback(waves[1].b.id, 'ops:test');
    await h.untilWaveState(waves[1].b.id, 'rolled_back');
    await h.commands.rollback(waves[1].a.id, 'ops:test');
    await Promise.all([h.commands.rollback(waves[2].a.id, 'ops:test'), h.commands.rollback(waves[2].b.id, 'ops:test')]);
    for (const { a, b } of waves) {
      await h.untilWaveState(a.id, 'rolled_back', { timeoutMs: 30_000 });
      await h.untilWaveState(b.id, 'rolled_back', { timeoutMs: 30_000 });
    }
    expect(await store.open(loginRange(1, ACCOUNTS))).toEqual([]);
    for (const { a, b } of waves)
      for (const w of [a, b]) {
        const [r] = await h.db.dataSource.query<{ k: string }[]>(
          `SELECT string_agg(DISTINCT state || '/' || COALESCE(rollback_state, '-'), ',') AS k FROM wave_members WHERE wave_id = $1`,
          [w.id],
        );
        expect(r.k).toBe('enabled/rolled_back');
        expect(await h.counters(w.id)).toEqual(await countersFromTruth(h.db, w.id));
      }
  }, 120_000);
});
