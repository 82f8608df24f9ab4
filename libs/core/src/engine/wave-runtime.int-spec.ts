import {
  aWave,
  countersFromTruth,
  createEngineHarness,
  EngineHarness,
  loginAllocator,
  pollUntil,
  WorkerProcess,
} from '@app/testing';
import { simNow } from '@app/mailstore-sim';

/** A live rate change, and a graceful SIGTERM with batches in flight (worker as a real process). */
describe('wave runtime behaviour (worker process, real services)', () => {
  let h: EngineHarness;
  const children: WorkerProcess[] = [];
  const logins = loginAllocator();
  /** A worker process, resolved once it logged that it is ready (its signal handlers are installed then). */
  const worker = async () => {
    const child = await WorkerProcess.start(h.env);
    children.push(child);
    return child;
  };
  /** Accounts sent per whole second of the simulator's clock, for one wave. */
  const perSecond = (id: string, from: number, to: number) => {
    const calls = h.batchCalls(id).filter((c) => c.startedAt >= from && c.startedAt < to);
    return calls.reduce((n, c) => n + c.accounts.length, 0) / ((to - from) / 1000);
  };

  beforeAll(async () => {
    h = await createEngineHarness('runtime', { accounts: 8000 });
    await h.importPopulation({ count: 8000, seed: 41, leakedShare: 0 });
  });
  afterAll(async () => {
    await Promise.all(children.map((c) => c.kill()));
    await h?.close();
  });

  it('applies a rate change while the wave runs within 2 s', async () => {
    const child = await worker();
    try {
      const w = await aWave('rate')
        .logins(logins(3000))
        .protocols('imap')
        .rate(50)
        .batchSize(40)
        .concurrency(8)
        .started(h);
      await pollUntil(() => h.sim.calls().some((c) => c.idempotencyKey?.includes(w.id)), {
        timeoutMs: 15_000,
        description: 'first call',
      });
      const t0 = simNow();
      await new Promise((r) => setTimeout(r, 3000)); // measuring a rate needs time to pass
      const before = perSecond(w.id, t0, t0 + 3000);
      await h.commands.update(w.id, { ratePerSecond: 150 }, 'ops:test');
      const changed = simNow();
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
      expect(await child.terminate()).toBe(0);
    }
  });

  it('SIGTERM: finishes or releases in-flight batches within the deadline; another worker completes the wave', async () => {
    h.sim.setFaults({ latencyMs: 300, endpoints: ['batch'] });
    const first = await worker();
    const members = logins(2000);
    const w = await aWave('sigterm')
      .logins(members)
      .protocols('imap')
      .rate(2000)
      .batchSize(50)
      .concurrency(4)
      .started(h);
    await h.untilCounters(w.id, (c) => (c.in_flight ?? 0) > 0, { timeoutMs: 15_000, description: 'batches in flight' });
    const stopAt = Date.now();
    expect(await first.terminate()).toBe(0);
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
    await h.untilWaveState(w.id, 'completed', { timeoutMs: 60_000, description: 'completed by the next worker' });
    const counters = await h.counters(w.id);
    expect(counters).toEqual(await countersFromTruth(h.db, w.id));
    expect(counters.enabled).toBe(members.length);
  });
});
