import {
  appliedCounts,
  aWave,
  countersFromTruth,
  createEngineHarness,
  EngineHarness,
  PrivatePostgres,
  settledCount,
  startPrivatePostgres,
  WorkerProcess,
} from '@app/testing';

/**
 * PostgreSQL restarted with -m immediate in the middle of a wave, on a cluster of the test's own: the worker
 * rides it out (failed jobs retry, the reconciler re-adds pumps, unfinished batches are taken over with their
 * key) and the wave ends with every invariant intact.
 */
describe('PostgreSQL restart mid-wave (private cluster, worker process)', () => {
  let pg: PrivatePostgres;
  let h: EngineHarness;
  let worker: WorkerProcess | undefined;

  beforeAll(async () => {
    pg = await startPrivatePostgres();
    h = await createEngineHarness('pgrestart', { accounts: 6000 }, { RECONCILE_INTERVAL_MS: '1000' }, pg.url);
    await h.importPopulation({ count: 6000, seed: 71 });
  });
  afterAll(async () => {
    await worker?.kill();
    await h?.close();
    pg?.stop();
  });

  it('finishes the wave after an immediate restart, nothing lost or applied twice', async () => {
    worker = await WorkerProcess.start(h.env);
    const wave = await aWave('pg restart').remaining().protocols('imap', 'pop3').rate(1500).batchSize(50).started(h);
    await h.untilCounters(wave.id, (c) => settledCount(c) >= 1500, { timeoutMs: 60_000, description: '1500 settled' });
    pg.restartImmediate();
    await h.untilWaveState(wave.id, 'completed', {
      timeoutMs: 150_000,
      intervalMs: 500,
      description: 'completed after the restart',
    });
    const counters = await h.counters(wave.id);
    expect(counters).toEqual(await countersFromTruth(h.db, wave.id));
    expect(counters.total).toBe(6000);
    const applied = appliedCounts(h.sim.calls());
    expect([...applied.values()].filter((n) => n > 1)).toEqual([]);
    expect(applied.size).toBe(counters.enabled);
  }, 240_000);
});
