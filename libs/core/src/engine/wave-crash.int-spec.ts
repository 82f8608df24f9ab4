import {
  appliedCounts,
  aWave,
  cleanRecord,
  Counters,
  countersFromTruth,
  createEngineHarness,
  EngineHarness,
  recordVsMailstore,
  settledCount,
  WorkerProcess,
} from '@app/testing';

const ACCOUNTS = 20_000;

/**
 * Invariants 1, 2 and 4 under crashes: two worker processes share a 20,000-account wave; one is killed with
 * SIGKILL twice mid-run and restarted; Redis loses every key of ours mid-wave. At the end every member has
 * exactly one terminal outcome, counters equal the SQL truth, the simulator's state equals the service's,
 * and no account was changed twice. Needs the build (npm test builds first).
 */
describe('crash safety (worker processes, real services)', () => {
  let h: EngineHarness;
  const workers: WorkerProcess[] = [];

  async function startWorkerProcess(): Promise<WorkerProcess> {
    const w = await WorkerProcess.start(h.env);
    workers.push(w);
    return w;
  }

  beforeAll(async () => {
    h = await createEngineHarness('crash', { accounts: ACCOUNTS }, { RECONCILE_INTERVAL_MS: '1000' });
    await h.importPopulation({ count: ACCOUNTS, seed: 5 });
  });
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.kill()));
    await h?.close();
  });

  describe('loses nothing and changes no account twice through SIGKILLs and a Redis wipe', () => {
    let waveId: string;
    let counters: Counters;
    beforeAll(async () => {
      const a = await startWorkerProcess();
      await startWorkerProcess();
      const wave = await aWave('crash')
        .remaining()
        .protocols('imap', 'pop3')
        .rate(2500)
        .batchSize(100)
        .concurrency(4)
        .started(h);
      waveId = wave.id;
      let victim = a;
      for (const mark of [3000, 7000]) {
        await h.untilCounters(wave.id, (c) => settledCount(c) >= mark, {
          timeoutMs: 60_000,
          description: `${mark} settled`,
        });
        await victim.kill();
        victim = await startWorkerProcess();
      }
      await h.untilCounters(wave.id, (c) => settledCount(c) >= 11_000, {
        timeoutMs: 60_000,
        description: '11000 settled',
      });
      // Redis loses every key of ours (as after a restart without persistence): the reconciler rebuilds from PostgreSQL.
      await h.redis.wipe();

      await h.untilWaveState(wave.id, 'completed', { timeoutMs: 120_000, description: 'wave completed' });
      counters = await h.counters(wave.id);
    }, 300_000); // its own waits are bounded by the deadlines above

    it('every member terminal, counters equal to the truth', async () => {
      expect(counters).toEqual(await countersFromTruth(h.db, waveId));
      expect(counters.total).toBe(ACCOUNTS);
      const [open] = await h.db.dataSource.query<{ n: string }[]>(
        `SELECT count(*) AS n FROM wave_members WHERE wave_id = $1 AND state IN ('pending', 'in_flight')`,
        [waveId],
      );
      expect(Number(open.n)).toBe(0);
    });

    it("each account applied once, the simulator's state the service's", async () => {
      const applied = appliedCounts(h.sim.calls());
      expect([...applied.entries()].filter(([, n]) => n > 1)).toEqual([]);
      expect(applied.size).toBe(counters.enabled);
      const enabled = await h.db.dataSource.query<{ login: string }[]>(
        `SELECT a.login FROM wave_members m JOIN accounts a ON a.id = m.account_id WHERE m.wave_id = $1 AND m.state = 'enabled'`,
        [waveId],
      );
      for (const { login } of enabled) expect(applied.get(login)).toBe(1);
      const mismatched = enabled.filter(({ login }) => {
        const s = h.sim.account(login)!.protocols;
        return !(s.imap && s.pop3);
      });
      expect(mismatched).toEqual([]);
    });

    it('the whole record (ledger rows included) against the simulator, for every member', async () => {
      const members = await h.db.dataSource.query<{ login: string }[]>(
        `SELECT a.login FROM wave_members m JOIN accounts a ON a.id = m.account_id WHERE m.wave_id = $1`,
        [waveId],
      );
      expect(
        await recordVsMailstore(
          h,
          waveId,
          members.map((m) => m.login),
        ),
      ).toEqual(cleanRecord(waveId));
    });
  });
});
