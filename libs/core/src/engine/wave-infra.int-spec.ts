import {
  appliedCounts,
  aWave,
  countersFromTruth,
  createEngineHarness,
  EngineHarness,
  loginRange,
  PrivateRedis,
  WorkerProcess,
} from '@app/testing';

/**
 * Infrastructure faults with worker processes: a Redis of the test's own restarted (without persistence, so
 * it comes back empty) mid-wave, and a rollback interrupted by SIGKILL and finished by another worker.
 */
describe('Redis restart and interrupted rollback (worker processes)', () => {
  let h: EngineHarness;
  let redis: PrivateRedis;
  const children: WorkerProcess[] = [];

  const worker = async () => {
    const child = await WorkerProcess.start(h.env);
    children.push(child);
    return child;
  };

  beforeAll(async () => {
    redis = await PrivateRedis.reserve();
    await redis.start();
    h = await createEngineHarness('infra', { accounts: 8000 }, { REDIS_URL: redis.url, RECONCILE_INTERVAL_MS: '1000' });
    await h.importPopulation({ count: 8000, seed: 91, leakedShare: 0 });
  });
  afterAll(async () => {
    await Promise.all(children.map((c) => c.kill()));
    await h?.close();
    await redis?.stop();
  });

  it('a Redis restart that loses everything mid-wave: the queue is rebuilt from PostgreSQL, nothing lost', async () => {
    await worker();
    const members = loginRange(1, 4000);
    const w = await aWave('redis restart').logins(members).protocols('imap').rate(1500).batchSize(50).started(h);
    await h.untilCounters(w.id, (c) => (c.enabled ?? 0) >= 800, { timeoutMs: 30_000, description: 'under way' });
    await redis.stop();
    await new Promise((r) => setTimeout(r, 1500)); // Redis stays down a moment: the outage is the test
    await redis.start();
    await h.untilWaveState(w.id, 'completed', { timeoutMs: 90_000, intervalMs: 250, description: 'completed' });
    const counters = await h.counters(w.id);
    expect(counters).toEqual(await countersFromTruth(h.db, w.id));
    expect(counters.enabled).toBe(members.length);
    const applied = appliedCounts(h.sim.calls());
    expect([...applied.values()].filter((n) => n > 1)).toEqual([]);
  }, 180_000);

  it('a rollback interrupted by SIGKILL is finished by another worker: each account restored once', async () => {
    await Promise.all(children.map((c) => c.kill()));
    const first = await worker();
    const members = loginRange(5001, 8000);
    const w = await aWave('rollback kill')
      .logins(members)
      .protocols('imap', 'pop3')
      .rate(5000)
      .rollbackRate(1000)
      .batchSize(50)
      .started(h);
    await h.untilWaveState(w.id, 'completed', { timeoutMs: 60_000, description: 'forward completed' });
    await h.commands.rollback(w.id, 'ops:test');
    await h.untilCounters(w.id, (c) => (c['rollback:rolled_back'] ?? 0) >= 600, {
      timeoutMs: 30_000,
      description: 'rollback under way',
    });
    await first.kill();
    await worker();
    await h.untilWaveState(w.id, 'rolled_back', { timeoutMs: 90_000, intervalMs: 250, description: 'rolled back' });
    const counters = await h.counters(w.id);
    expect(counters).toEqual(await countersFromTruth(h.db, w.id));
    expect(counters['rollback:rolled_back']).toBe(members.length);
    const rolledBack = appliedCounts(h.sim.calls().filter((c) => c.idempotencyKey?.includes(`${w.id}/rollback/`)));
    expect(rolledBack.size).toBe(members.length);
    expect([...rolledBack.values()].filter((n) => n > 1)).toEqual([]);
    for (const login of members.slice(0, 200))
      expect(h.sim.account(login)!.protocols).toEqual({ imap: false, pop3: false });
  }, 180_000);
});
