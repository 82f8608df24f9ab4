import {
  accessDisagreements,
  aWave,
  createEngineHarness,
  createPassdbDatabase,
  dovecotSqlEnv,
  EngineHarness,
  loginRange,
  type PassdbDatabase,
  type PassdbDialect,
  untilOperationDone,
} from '@app/testing';

const ACCOUNTS = 20;

/** What the spec reads of a passdb, in each dialect's SQL (`?` placeholders on both: PassdbDatabase numbers them). */
const ANY_LOGIN: Record<PassdbDialect, string> = { postgres: 'email = ANY(?::text[])', mysql: 'email IN (?)' };

/**
 * An operator re-provisions mailboxes the service already wrote (the row deleted and inserted again, or restored from
 * a backup): the version column starts again below the one the service recorded. The service's view of each account
 * must still follow the answers it gets afterwards. Kept out as "back in time" (a lower version than recorded), a
 * wave's answer that IMAP is open, and a support enable that opened it, left the account recorded closed for good
 * while the passdb let it in. An answer to a call that started after the recorded one was settled is newer, whatever
 * its version.
 */
describe.each(['postgres', 'mysql'] as const)(
  "the service's view of accounts whose passdb rows were re-created (dovecot-sql on %s, real passdb, in-process worker)",
  (dialect) => {
    let h: EngineHarness;
    let passdb: PassdbDatabase;
    const members = loginRange(1, ACCOUNTS);

    beforeAll(async () => {
      passdb = await createPassdbDatabase(dialect, 'columns');
      await passdb.addAccounts(members.map((login) => ({ login, password: 'secret' })));
      h = await createEngineHarness('recreated', { accounts: 10 }, dovecotSqlEnv(passdb));
      await h.importPopulation({ count: ACCOUNTS, seed: 29, leakedShare: 0 });
      await h.startWorker();
    });
    afterAll(async () => {
      await h?.close();
      await passdb?.drop();
    });

    const store = () => passdb.switches(members);
    const disagreements = () => accessDisagreements(h, passdb, members);

    /** The operator's re-provisioning: the rows as new, version 0, IMAP as given. */
    async function recreate(logins: readonly string[], imap: boolean): Promise<void> {
      await passdb.exec(`DELETE FROM mail_users WHERE ${ANY_LOGIN[dialect]}`, [logins]);
      await passdb.addAccounts(logins.map((login) => ({ login, password: 'secret' })));
      if (imap) await passdb.exec(`UPDATE mail_users SET imap_enabled = true WHERE ${ANY_LOGIN[dialect]}`, [logins]);
    }

    it('records what the mailstore answers after the rows were re-created with a lower version', async () => {
      // Opened (version 1) and closed again (version 2) by the service: recorded closed at version 2.
      const first = await aWave('first').logins(members).protocols('imap').rate(1000).batchSize(10).started(h);
      await h.untilWaveState(first.id, 'completed', { timeoutMs: 30_000 });
      await h.commands.rollback(first.id, 'ops:test');
      await h.untilWaveState(first.id, 'rolled_back', { timeoutMs: 30_000 });
      expect(await disagreements()).toEqual([]);

      // Re-provisioned at version 0: one closed (support opens it), the others with IMAP open.
      const [supported, ...rest] = members;
      await recreate([supported], false);
      await recreate(rest, true);
      expect((await passdb.flags(rest[0]))?.version).toBe(0);

      // Support opens the closed one: the passdb answers version 1, lower than the 2 recorded.
      const support = h.support();
      const op = await support.request(
        supported,
        'enable',
        { reason: 'customer asked', ticket: 'INC-9', protocols: ['imap'] },
        'support:test',
      );
      expect(await untilOperationDone(support, op.id)).toMatchObject({ state: 'succeeded' });
      expect((await store()).get(supported)).toEqual({ imap: true, pop3: false });

      // A wave for IMAP finds the others open already (version 0): skipped, and recorded as the passdb has them.
      const second = await aWave('second').logins(rest).protocols('imap').rate(1000).batchSize(10).started(h);
      await h.untilWaveState(second.id, 'completed', { timeoutMs: 30_000 });
      const skipped = await h.db.dataSource.query<{ n: number }[]>(
        `SELECT count(*)::int AS n FROM wave_members WHERE wave_id = $1 AND state = 'skipped' AND reason = 'already_enabled'`,
        [second.id],
      );
      expect(skipped[0].n).toBe(rest.length);

      // Every account is open in the passdb; the service must not record any of them closed.
      expect([...(await store()).values()].every((s) => s.imap)).toBe(true);
      expect(await disagreements()).toEqual([]);
    }, 120_000);
  },
);
