import {
  aWave,
  cleanRecord,
  createEngineHarness,
  EngineHarness,
  loginAllocator,
  pollUntil,
  recordVsMailstore,
} from '@app/testing';

/**
 * Rollback of a paused wave that keeps a forward batch for its retry (parked after a 429, which applied nothing, or
 * after a 500, in doubt). wave-kept-batch resumes such a wave and wave-control cancels one waiting out a Retry-After;
 * none rolls it back. The parked batch must end without staying in flight: released as cancelled (429), or resent
 * under its key and then restored (500); every account the wave opened is closed again.
 */
describe('rollback of a paused wave with a batch kept for its retry (real PostgreSQL, Redis, simulator, worker)', () => {
  let h: EngineHarness;
  const logins = loginAllocator();

  beforeAll(async () => {
    h = await createEngineHarness(
      'pausedrb',
      { accounts: 100 },
      // A 500 is retried after 3 s: time to pause the wave in between.
      { BATCH_RETRY_BASE_MS: '3000', BATCH_RETRY_MAX_MS: '3000' },
    );
    await h.importPopulation({ count: 100, seed: 53, leakedShare: 0 });
    await h.startWorker();
  });
  afterEach(() => h.sim.setFaults({}));
  afterAll(async () => {
    await h?.close();
  });

  it.each(['429', '500'] as const)(
    'after a %s',
    async (fault) => {
      const members = logins(30);
      // The first batch is answered, the second meets the fault; one pump, so nothing else is sent meanwhile. Each
      // answer leaves the mailstore 1 s after its call arrives: the pause below commits before the fault's answer, so
      // its retry (full jitter: possibly within a few ms of the answer) cannot come first.
      h.sim.setFaults({ script: ['ok', fault], retryAfterSeconds: 3, endpoints: ['batch'], latencyMs: 1_000 });
      const wave = await aWave(`pausedrb-${fault}`)
        .logins(members)
        .protocols('imap', 'pop3')
        .rate(1000)
        .batchSize(10)
        .concurrency(1)
        .started(h);
      await pollUntil(async () => h.batchCalls(wave.id).length === 2, {
        timeoutMs: 15_000,
        description: `the call that meets the ${fault}`,
      });
      await h.commands.pause(wave.id, 'ops:test');
      const parked = async () =>
        (
          await h.db.dataSource.query<{ n: string }[]>(
            `SELECT count(*) AS n FROM wave_batches WHERE wave_id = $1 AND kind = 'forward' AND state = 'claimed'
              AND parked_at IS NOT NULL`,
            [wave.id],
          )
        )[0].n === '1';
      await pollUntil(parked, { timeoutMs: 10_000, description: 'the batch parked' });
      expect(h.batchCalls(wave.id).map((c) => c.status)).toEqual([200, Number(fault)]);
      h.sim.setFaults({});
      await h.commands.rollback(wave.id, 'ops:test');
      await h.untilWaveState(wave.id, 'rolled_back', { timeoutMs: 30_000 });
      expect(await h.waitAtRest(wave.id)).toBe(true);
      expect(await recordVsMailstore(h, wave.id, members, { rolledBack: true })).toEqual(cleanRecord(wave.id));
      expect(members.filter((m) => h.sim.account(m)!.protocols.imap || h.sim.account(m)!.protocols.pop3)).toEqual([]);
      const states = await h.db.dataSource.query<{ state: string; n: string }[]>(
        `SELECT state, count(*) AS n FROM wave_members WHERE wave_id = $1 GROUP BY state ORDER BY state`,
        [wave.id],
      );
      // 429: the parked batch applied nothing and is released (cancelled); 500: resent, then restored.
      expect(Object.fromEntries(states.map((s) => [s.state, Number(s.n)]))).toEqual(
        fault === '429' ? { enabled: 10, cancelled: 20 } : { enabled: 20, cancelled: 10 },
      );
    },
    60_000,
  );
});
