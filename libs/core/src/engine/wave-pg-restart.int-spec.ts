import { ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  countersFromTruth,
  createEngineHarness,
  EngineHarness,
  pollUntil,
  PrivatePostgres,
  startPrivatePostgres,
} from '@app/testing';

const WORKER = join(__dirname, '../../../../dist/apps/worker/src/main.js');

/**
 * PostgreSQL restarted with -m immediate in the middle of a wave, on a cluster of the test's own: the worker
 * rides it out (failed jobs retry, the reconciler re-adds pumps, unfinished batches are taken over with their
 * key) and the wave ends with every invariant intact.
 */
describe('PostgreSQL restart mid-wave (private cluster, worker process)', () => {
  let pg: PrivatePostgres;
  let h: EngineHarness;
  let worker: ChildProcess | undefined;

  beforeAll(async () => {
    if (!existsSync(WORKER)) throw new Error(`${WORKER} is missing: run npm run build first (npm test does)`);
    pg = await startPrivatePostgres();
    h = await createEngineHarness('pgrestart', { accounts: 6000 }, { RECONCILE_INTERVAL_MS: '1000' }, pg.url);
    await h.importPopulation({ count: 6000, seed: 71 });
  });
  afterAll(async () => {
    if (worker && worker.exitCode === null) worker.kill('SIGKILL');
    await h?.close();
    pg?.stop();
  });

  it('finishes the wave after an immediate restart, nothing lost or applied twice', async () => {
    worker = spawn(process.execPath, [WORKER], { env: { ...process.env, ...h.env }, stdio: 'ignore' });
    const wave = await h.commands.create(
      {
        name: 'pg restart',
        selector: { type: 'remaining' },
        protocols: ['imap', 'pop3'],
        ratePerSecond: 1500,
        batchSize: 50,
      },
      'ops:test',
    );
    await h.commands.start(wave.id, 'ops:test');
    const settled = async () => {
      const c = await h.counters(wave.id);
      return (c.enabled ?? 0) + (c.skipped ?? 0) + (c.failed ?? 0);
    };
    await pollUntil(async () => (await settled()) >= 1500, { timeoutMs: 60_000, description: '1500 settled' });
    pg.restartImmediate();
    await pollUntil(
      async () =>
        (await h.db.dataSource.query<{ state: string }[]>(`SELECT state FROM waves WHERE id = $1`, [wave.id]))[0]
          .state === 'completed',
      { timeoutMs: 150_000, intervalMs: 500, description: 'completed after the restart' },
    );
    const counters = await h.counters(wave.id);
    expect(counters).toEqual(await countersFromTruth(h.db, wave.id));
    expect(counters.total).toBe(6000);
    const applied = new Map<string, number>();
    for (const c of h.sim.calls()) for (const a of c.applied) applied.set(a, (applied.get(a) ?? 0) + 1);
    expect([...applied.values()].filter((n) => n > 1)).toEqual([]);
    expect(applied.size).toBe(counters.enabled);
  }, 240_000);
});
