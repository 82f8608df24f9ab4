import {
  aWave,
  cleanRecord,
  createEngineHarness,
  createPassdbDatabase,
  dovecotSqlEnv,
  EngineHarness,
  loginRange,
  type PassdbDatabase,
  type PassdbDialect,
  pollUntil,
  recordVsMailstore,
  switchesView,
  WorkerProcess,
} from '@app/testing';

const ACCOUNTS = 2400;

/** What the spec does to a passdb, in each dialect's SQL (`?` placeholders on both: PassdbDatabase numbers them). */
const DIALECT = {
  postgres: {
    anyLogin: 'email = ANY(?::text[])',
    /** Ends every connection the driver holds to the passdb (its pool's application_name), whatever it is doing. */
    cut: async (passdb: PassdbDatabase, name: string) =>
      (
        await passdb.query(
          `SELECT pg_terminate_backend(pid) AS t FROM pg_stat_activity
            WHERE datname = ? AND application_name = 'reopen-dovecot-sql'`,
          [name],
        )
      ).filter((r) => r.t === true).length,
    slow: async (passdb: PassdbDatabase, seconds: number) => {
      await passdb.exec('DROP TRIGGER IF EXISTS slow_write ON mail_users');
      if (seconds === 0) return;
      await passdb.exec(`CREATE OR REPLACE FUNCTION slow_write() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_sleep(${seconds}); RETURN NULL; END $$`);
      await passdb.exec(
        'CREATE TRIGGER slow_write BEFORE UPDATE ON mail_users FOR EACH STATEMENT EXECUTE FUNCTION slow_write()',
      );
    },
  },
  mysql: {
    anyLogin: 'email IN (?)',
    /** Kills every other connection to the passdb (the driver's: the fixture's own is this one). */
    cut: async (passdb: PassdbDatabase, name: string) => {
      const rows = await passdb.query(
        'SELECT ID AS id FROM information_schema.PROCESSLIST WHERE DB = ? AND ID <> CONNECTION_ID()',
        [name],
      );
      for (const r of rows) await passdb.exec(`KILL CONNECTION ${Number(r.id)}`).catch(() => undefined);
      return rows.length;
    },
    /** MySQL has row triggers only: a batch of 40 rows takes 40 sleeps. */
    slow: async (passdb: PassdbDatabase, seconds: number) => {
      await passdb.exec('DROP TRIGGER IF EXISTS slow_write');
      if (seconds === 0) return;
      await passdb.exec(
        `CREATE TRIGGER slow_write BEFORE UPDATE ON mail_users FOR EACH ROW SET @slept = SLEEP(${seconds / 40})`,
      );
    },
  },
} satisfies Record<PassdbDialect, unknown>;

describe.each(['postgres', 'mysql'] as const)(
  'a wave through dovecot-sql on %s under faults (real passdb, Redis, worker processes)',
  (dialect) => {
    const sql = DIALECT[dialect];
    let h: EngineHarness;
    let passdb: PassdbDatabase;
    let passdbName: string;
    const workers: WorkerProcess[] = [];

    const startWorker = async () => {
      const w = await WorkerProcess.start(h.env);
      workers.push(w);
      return w;
    };

    /** The passdb's switches for these logins, in the simulator's shape recordVsMailstore reads. */
    async function passdbAsMailstore(logins: readonly string[]) {
      return { ...h, sim: switchesView(await passdb.switches(logins)) };
    }

    /** Every passdb write statement takes `seconds` longer (0: as fast as it is). */
    function slowWrites(seconds: number): Promise<void> {
      return sql.slow(passdb, seconds);
    }

    /** Batches of the wave sent more than once (after a failed call, or taken over from a killed worker). */
    async function resentBatches(waveId: string): Promise<number> {
      const [r] = await h.db.dataSource.query<{ n: number }[]>(
        `SELECT count(*)::int AS n FROM wave_batches WHERE wave_id = $1 AND attempts > 1`,
        [waveId],
      );
      return r.n;
    }

    /** Until the wave is in one of `states`, resuming it after a pause the faults caused (mailstore unreachable). */
    async function untilSettled(waveId: string, states: string[], during?: () => Promise<void>) {
      await pollUntil(
        async () => {
          await during?.();
          const alive = workers.filter((w) => w.alive);
          if (!alive.length) throw new Error(`every worker process ended:\n${workers.at(-1)?.output().slice(-2000)}`);
          const s = await h.waveStatus(waveId);
          if (s.state === 'paused' && s.status_reason === 'mailstore_unreachable')
            await h.commands.resume(waveId, 'ops:test');
          return states.includes(s.state);
        },
        { timeoutMs: 120_000, intervalMs: 150, description: `wave ${states.join('/')}` },
      );
    }

    beforeAll(async () => {
      passdb = await createPassdbDatabase(dialect, 'columns');
      passdbName = decodeURIComponent(new URL(passdb.url).pathname.slice(1));
      h = await createEngineHarness(
        'nativefaults',
        { accounts: 10 },
        {
          ...dovecotSqlEnv(passdb),
          BATCH_LEASE_MS: '8000',
          BATCH_RETRY_BASE_MS: '100',
          BATCH_RETRY_MAX_MS: '500',
          RECONCILE_INTERVAL_MS: '500',
        },
      );
      await h.importPopulation({ count: ACCOUNTS, seed: 91, leakedShare: 0 });
      await passdb.addAccounts(loginRange(1, ACCOUNTS).map((login) => ({ login, password: 'secret' })));
    });
    afterAll(async () => {
      await Promise.all(workers.map((w) => w.kill()));
      await h?.close();
      await passdb?.drop();
    });

    it('connections to the passdb cut again and again: the passdb ends exactly as recorded', async () => {
      const worker = await startWorker();
      const members = loginRange(1, 1200);
      await slowWrites(0.03); // so that most cuts land inside a batch's transaction
      const wave = await aWave('cut').logins(members).protocols('imap', 'pop3').rate(300).batchSize(40).started(h);
      let cut = 0;
      await untilSettled(wave.id, ['completed'], async () => {
        cut += await sql.cut(passdb, passdbName);
      });
      // The premise: connections were cut while batches ran, and some calls failed for it.
      expect(cut).toBeGreaterThan(0);
      const [failed] = await h.db.dataSource.query<{ n: string }[]>(
        `SELECT count(*) AS n FROM mailstore_calls WHERE wave_id = $1 AND outcome <> 'ok'`,
        [wave.id],
      );
      expect(Number(failed.n)).toBeGreaterThan(0);
      expect(await resentBatches(wave.id)).toBeGreaterThan(0);
      expect(worker.alive).toBe(true); // cut connections are the calls' failures, never the process's end
      await slowWrites(0);
      expect(await recordVsMailstore(await passdbAsMailstore(members), wave.id, members)).toEqual(cleanRecord(wave.id));
      await worker.kill();
    });

    it('a worker killed mid-wave twice, then the rollback under cuts: every account back, as recorded', async () => {
      const members = loginRange(1201, ACCOUNTS);
      // Each passdb write takes 100 ms, so a kill lands while batches are in the passdb: their resends are in doubt.
      await slowWrites(0.1);
      await startWorker();
      const wave = await aWave('killed').logins(members).protocols('imap', 'pop3').rate(400).batchSize(40).started(h);
      for (let kill = 0; kill < 2; kill++) {
        const victim = workers[workers.length - 1];
        const before = (await h.counters(wave.id)).enabled ?? 0;
        await h.untilCounters(wave.id, (c) => (c.enabled ?? 0) >= before + 200, { timeoutMs: 60_000 });
        await victim.kill();
        await startWorker();
      }
      await untilSettled(wave.id, ['completed']);
      expect(await resentBatches(wave.id)).toBeGreaterThan(0); // batches the killed workers held, taken over
      expect(await recordVsMailstore(await passdbAsMailstore(members), wave.id, members)).toEqual(cleanRecord(wave.id));

      await slowWrites(0);
      await h.commands.rollback(wave.id, 'ops:test');
      await untilSettled(wave.id, ['rolled_back'], async () => {
        await sql.cut(passdb, passdbName);
      });
      const record = await recordVsMailstore(await passdbAsMailstore(members), wave.id, members, { rolledBack: true });
      expect(record).toEqual(cleanRecord(wave.id));
      expect(workers[workers.length - 1].alive).toBe(true);
      const open = await passdb.query(
        `SELECT count(*) AS n FROM mail_users WHERE ${sql.anyLogin} AND (imap_enabled OR pop3_enabled)`,
        [members],
      );
      expect(Number(open[0].n)).toBe(0);
    }, 150_000);
  },
);
