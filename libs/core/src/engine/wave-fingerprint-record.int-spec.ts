import {
  accessDisagreements,
  aWave,
  createEngineHarness,
  createPassdbDatabase,
  dovecotSqlEnv,
  EngineHarness,
  loginRange,
  type PassdbDatabase,
  untilOperationDone,
} from '@app/testing';

const ACCOUNTS = 30;

/**
 * A passdb without a version column: the dovecot-sql driver answers a fingerprint of the switches as the version
 * (1 + imap + 2·pop3), which goes down as well as up. The service's view of each account (accounts.imap_enabled,
 * pop3_enabled) must still follow what the passdb holds after every wave and rollback: a close (fingerprint down)
 * is as real as an open. Read as "back in time", it was dropped, so the service kept a closed account as open and,
 * after a later wave opened another protocol at a lower fingerprint, an open account as closed.
 */
describe.each(['postgres', 'mysql'] as const)(
  "the service's view of accounts on a passdb without a version column (dovecot-sql on %s, real passdb, in-process worker)",
  (dialect) => {
    let h: EngineHarness;
    let passdb: PassdbDatabase;
    const members = loginRange(1, ACCOUNTS);

    beforeAll(async () => {
      passdb = await createPassdbDatabase(dialect, 'columns');
      await passdb.addAccounts(members.map((login) => ({ login, password: 'secret' })));
      const { DOVECOT_SQL_VERSION_COLUMN: _version, ...unversioned } = dovecotSqlEnv(passdb);
      h = await createEngineHarness('fprecord', { accounts: 10 }, unversioned);
      await h.importPopulation({ count: ACCOUNTS, seed: 23, leakedShare: 0 });
      await h.startWorker();
    });
    afterAll(async () => {
      await h?.close();
      await passdb?.drop();
    });

    const store = () => passdb.switches(members);
    const disagreements = () => accessDisagreements(h, passdb, members);

    async function openedBy(name: string, protocols: ('imap' | 'pop3')[]) {
      const wave = await aWave(name)
        .logins(members)
        .protocols(...protocols)
        .rate(1000)
        .batchSize(10)
        .started(h);
      await h.untilWaveState(wave.id, 'completed', { timeoutMs: 30_000 });
      return wave;
    }

    it('follows a rollback that closes, and a later wave that opens at a lower fingerprint', async () => {
      // POP3 opened: fingerprint 1 → 3.
      const pop3 = await openedBy('fp-pop3', ['pop3']);
      expect([...(await store()).values()].every((s) => !s.imap && s.pop3)).toBe(true);
      expect(await disagreements()).toEqual([]);

      // Rolled back: 3 → 1. The service must record every member closed again.
      await h.commands.rollback(pop3.id, 'ops:test');
      await h.untilWaveState(pop3.id, 'rolled_back', { timeoutMs: 30_000 });
      expect([...(await store()).values()].every((s) => !s.imap && !s.pop3)).toBe(true);
      expect(await disagreements()).toEqual([]);

      // IMAP opened: 1 → 2. Recorded otherwise, the service would hold these accounts' IMAP as closed.
      const imap = await openedBy('fp-imap', ['imap']);
      const [enabled] = await h.db.dataSource.query<{ n: number }[]>(
        `SELECT count(*)::int AS n FROM wave_members WHERE wave_id = $1 AND state = 'enabled'`,
        [imap.id],
      );
      expect(enabled.n).toBe(ACCOUNTS);
      expect([...(await store()).values()].every((s) => s.imap && !s.pop3)).toBe(true);
      expect(await disagreements()).toEqual([]);

      // A wave asking for POP3 again decides on the service's view: it must send, not skip the members as already on.
      const again = await openedBy('fp-pop3-again', ['pop3']);
      const skipped = await h.db.dataSource.query<{ n: number }[]>(
        `SELECT count(*)::int AS n FROM wave_members WHERE wave_id = $1 AND state <> 'enabled'`,
        [again.id],
      );
      expect(skipped[0].n).toBe(0);
      expect([...(await store()).values()].every((s) => s.imap && s.pop3)).toBe(true);
      expect(await disagreements()).toEqual([]);

      // Support closes POP3 on one account: 4 → 2, recorded as the support lane's answer.
      const support = h.support();
      const why = { reason: 'customer asked', ticket: 'INC-7', protocols: ['pop3' as const] };
      const op = await support.request(members[0], 'disable', why, 'support:test');
      expect(await untilOperationDone(support, op.id)).toMatchObject({ state: 'succeeded' });
      expect((await store()).get(members[0])).toEqual({ imap: true, pop3: false });
      expect(await disagreements()).toEqual([]);
    }, 120_000);
  },
);
