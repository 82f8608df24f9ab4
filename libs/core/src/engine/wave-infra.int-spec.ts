import { ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { countersFromTruth, createEngineHarness, EngineHarness, pollUntil, PrivateRedis } from '@app/testing';

const WORKER = join(__dirname, '../../../../dist/apps/worker/src/main.js');

/**
 * Infrastructure faults with worker processes: a Redis of the test's own restarted (without persistence, so
 * it comes back empty) mid-wave, and a rollback interrupted by SIGKILL and finished by another worker.
 */
describe('Redis restart and interrupted rollback (worker processes)', () => {
  let h: EngineHarness;
  let redis: PrivateRedis;
  const children: ChildProcess[] = [];

  const worker = () => {
    const child = spawn(process.execPath, [WORKER], { env: { ...process.env, ...h.env }, stdio: 'ignore' });
    children.push(child);
    return child;
  };
  const state = async (id: string) =>
    (await h.db.dataSource.query<{ state: string }[]>(`SELECT state FROM waves WHERE id = $1`, [id]))[0].state;

  beforeAll(async () => {
    if (!existsSync(WORKER)) throw new Error(`${WORKER} is missing: run npm run build first (npm test does)`);
    redis = await PrivateRedis.reserve();
    await redis.start();
    h = await createEngineHarness('infra', { accounts: 8000 }, { REDIS_URL: redis.url, RECONCILE_INTERVAL_MS: '1000' });
    await h.importPopulation({ count: 8000, seed: 91, leakedShare: 0 });
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await h?.close();
    await redis?.stop();
  });

  it('a Redis restart that loses everything mid-wave: the queue is rebuilt from PostgreSQL, nothing lost', async () => {
    worker();
    const members = Array.from({ length: 4000 }, (_, i) => `user${i + 1}@example.test`);
    const w = await h.commands.create(
      {
        name: 'redis restart',
        selector: { type: 'logins', logins: members },
        protocols: ['imap'],
        ratePerSecond: 1500,
        batchSize: 50,
      },
      'ops:test',
    );
    await h.commands.start(w.id, 'ops:test');
    await pollUntil(async () => ((await h.counters(w.id)).enabled ?? 0) >= 800, {
      timeoutMs: 30_000,
      description: 'under way',
    });
    await redis.stop();
    await new Promise((r) => setTimeout(r, 1500)); // Redis stays down a moment: the outage is the test
    await redis.start();
    await pollUntil(async () => (await state(w.id)) === 'completed', {
      timeoutMs: 90_000,
      intervalMs: 250,
      description: 'completed',
    });
    const counters = await h.counters(w.id);
    expect(counters).toEqual(await countersFromTruth(h.db, w.id));
    expect(counters.enabled).toBe(members.length);
    const applied = new Map<string, number>();
    for (const c of h.sim.calls()) for (const a of c.applied) applied.set(a, (applied.get(a) ?? 0) + 1);
    expect([...applied.values()].filter((n) => n > 1)).toEqual([]);
  }, 180_000);

  it('a rollback interrupted by SIGKILL is finished by another worker: each account restored once', async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    const first = worker();
    const members = Array.from({ length: 3000 }, (_, i) => `user${5001 + i}@example.test`);
    const w = await h.commands.create(
      {
        name: 'rollback kill',
        selector: { type: 'logins', logins: members },
        protocols: ['imap', 'pop3'],
        ratePerSecond: 5000,
        rollbackRatePerSecond: 1000,
        batchSize: 50,
      },
      'ops:test',
    );
    await h.commands.start(w.id, 'ops:test');
    await pollUntil(async () => (await state(w.id)) === 'completed', {
      timeoutMs: 60_000,
      description: 'forward completed',
    });
    await h.commands.rollback(w.id, 'ops:test');
    await pollUntil(async () => ((await h.counters(w.id))['rollback:rolled_back'] ?? 0) >= 600, {
      timeoutMs: 30_000,
      description: 'rollback under way',
    });
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    worker();
    await pollUntil(async () => (await state(w.id)) === 'rolled_back', {
      timeoutMs: 90_000,
      intervalMs: 250,
      description: 'rolled back',
    });
    const counters = await h.counters(w.id);
    expect(counters).toEqual(await countersFromTruth(h.db, w.id));
    expect(counters['rollback:rolled_back']).toBe(members.length);
    const rolledBack = new Map<string, number>();
    for (const c of h.sim.calls().filter((c) => c.idempotencyKey?.includes(`${w.id}/rollback/`))) {
      for (const a of c.applied) rolledBack.set(a, (rolledBack.get(a) ?? 0) + 1);
    }
    expect(rolledBack.size).toBe(members.length);
    expect([...rolledBack.values()].filter((n) => n > 1)).toEqual([]);
    for (const login of members.slice(0, 200))
      expect(h.sim.account(login)!.protocols).toEqual({ imap: false, pop3: false });
  }, 180_000);
});
