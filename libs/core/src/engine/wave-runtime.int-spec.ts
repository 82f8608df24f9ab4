import { ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { countersFromTruth, createEngineHarness, EngineHarness, pollUntil } from '@app/testing';

const WORKER = join(__dirname, '../../../../dist/apps/worker/src/main.js');

/** A live rate change, and a graceful SIGTERM with batches in flight (worker as a real process). */
describe('wave runtime behaviour (worker process, real services)', () => {
  let h: EngineHarness;
  let next = 1;
  const children: ChildProcess[] = [];
  const logins = (n: number) => Array.from({ length: n }, () => `user${next++}@example.test`);
  /** A worker process, resolved once it logged that it is ready (its signal handlers are installed then). */
  const worker = async () => {
    const child = spawn(process.execPath, [WORKER], {
      env: { ...process.env, ...h.env },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    children.push(child);
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await pollUntil(() => out.includes('worker ready'), { timeoutMs: 20_000, description: 'worker ready' });
    return child;
  };
  const stop = async (child: ChildProcess) => {
    if (child.exitCode !== null) return child.exitCode;
    child.kill('SIGTERM');
    return new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  };
  const state = async (id: string) =>
    (await h.db.dataSource.query<{ state: string }[]>(`SELECT state FROM waves WHERE id = $1`, [id]))[0].state;
  /** Accounts sent per whole second of the simulator's clock, for one wave. */
  const perSecond = (id: string, from: number, to: number) => {
    const calls = h.sim
      .calls()
      .filter(
        (c) => c.endpoint === 'batch' && c.idempotencyKey?.includes(id) && c.startedAt >= from && c.startedAt < to,
      );
    return calls.reduce((n, c) => n + c.accounts.length, 0) / ((to - from) / 1000);
  };

  beforeAll(async () => {
    if (!existsSync(WORKER)) throw new Error(`${WORKER} is missing: run npm run build first (npm test does)`);
    h = await createEngineHarness('runtime', { accounts: 8000 });
    await h.importPopulation({ count: 8000, seed: 41, leakedShare: 0 });
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await h?.close();
  });

  it('applies a rate change while the wave runs within 2 s', async () => {
    const child = await worker();
    try {
      const w = await h.commands.create(
        {
          name: 'rate',
          selector: { type: 'logins', logins: logins(3000) },
          protocols: ['imap'],
          ratePerSecond: 50,
          batchSize: 40,
          concurrency: 8,
        },
        'ops:test',
      );
      await h.commands.start(w.id, 'ops:test');
      await pollUntil(() => h.sim.calls().some((c) => c.idempotencyKey?.includes(w.id)), {
        timeoutMs: 15_000,
        description: 'first call',
      });
      const t0 = Date.now();
      await new Promise((r) => setTimeout(r, 3000)); // measuring a rate needs time to pass
      const before = perSecond(w.id, t0, t0 + 3000);
      await h.commands.update(w.id, { ratePerSecond: 150 }, 'ops:test');
      const changed = Date.now();
      await new Promise((r) => setTimeout(r, 4000));
      const after = perSecond(w.id, changed + 2000, changed + 4000);
      // Batches are a tenth of the rate (5 then 15 accounts), so both rates are 10 batches/s: the same load, which
      // keeps the comparison meaningful on a busy CI machine. The precise figures live in bench:throttle.
      expect(before).toBeGreaterThan(35);
      expect(before).toBeLessThan(56);
      expect(after).toBeGreaterThan(2 * before); // clearly the new rate (3× the old)...
      expect(after).toBeLessThan(166); // ...and never above 110 % of it
      await h.commands.cancel(w.id, 'ops:test');
    } finally {
      expect(await stop(child)).toBe(0);
    }
  });

  it('SIGTERM: finishes or releases in-flight batches within the deadline; another worker completes the wave', async () => {
    h.sim.setFaults({ latencyMs: 300, endpoints: ['batch'] });
    const first = await worker();
    const members = logins(2000);
    const w = await h.commands.create(
      {
        name: 'sigterm',
        selector: { type: 'logins', logins: members },
        protocols: ['imap'],
        ratePerSecond: 2000,
        batchSize: 50,
        concurrency: 4,
      },
      'ops:test',
    );
    await h.commands.start(w.id, 'ops:test');
    await pollUntil(async () => ((await h.counters(w.id)).in_flight ?? 0) > 0, {
      timeoutMs: 15_000,
      description: 'batches in flight',
    });
    const stopAt = Date.now();
    expect(await stop(first)).toBe(0);
    expect(Date.now() - stopAt).toBeLessThan(20_000);
    // Nothing the stopped worker held stays claimed with an unknown outcome.
    const [open] = await h.db.dataSource.query<{ n: string }[]>(
      `SELECT count(*) AS n FROM wave_batches WHERE wave_id = $1 AND state = 'claimed'`,
      [w.id],
    );
    expect(Number(open.n)).toBe(0);
    expect((await h.counters(w.id)).in_flight ?? 0).toBe(0);
    h.sim.setFaults({});
    await worker();
    await pollUntil(async () => (await state(w.id)) === 'completed', {
      timeoutMs: 60_000,
      description: 'completed by the next worker',
    });
    const counters = await h.counters(w.id);
    expect(counters).toEqual(await countersFromTruth(h.db, w.id));
    expect(counters.enabled).toBe(members.length);
  });
});
