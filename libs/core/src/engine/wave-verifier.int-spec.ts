import { aWave, countersFromTruth, createEngineHarness, EngineHarness, pollUntil } from '@app/testing';

/** Eventual propagation: a wave completes only after the stated delay and a read-back of a sample. */
describe('verification on eventual propagation (real services)', () => {
  let h: EngineHarness;
  beforeAll(async () => {
    h = await createEngineHarness('verify', { accounts: 400, propagation: { mode: 'eventual', maxSeconds: 2 } });
    await h.importPopulation({ count: 400, seed: 51, leakedShare: 0 });
    await h.startWorker();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('waits maxSeconds after the last batch, reads a sample back, then completes', async () => {
    const w = await aWave('eventual').remaining().protocols('imap').rate(10_000).batchSize(100).started(h);
    const row = async () =>
      (
        await h.db.dataSource.query<
          {
            state: string;
            verification: { checked?: number; mismatches?: unknown[] } | null;
            completed_at: Date | null;
          }[]
        >(`SELECT state, verification, completed_at FROM waves WHERE id = $1`, [w.id])
      )[0];
    await h.untilCounters(w.id, (c) => (c.total ?? 0) > 0 && (c.pending ?? 0) === 0 && (c.in_flight ?? 0) === 0, {
      timeoutMs: 30_000,
      description: 'all members terminal',
    });
    expect((await row()).state).toBe('running'); // terminal members are not enough: propagation is eventual
    await pollUntil(async () => (await row()).state === 'completed', {
      timeoutMs: 20_000,
      description: 'completed after read-back',
    });
    const r = await row();
    expect(r.verification).toMatchObject({ checked: 50, mismatches: [], done: true });
    const [last] = await h.db.dataSource.query<{ at: Date }[]>(
      `SELECT max(completed_at) AS at FROM wave_batches WHERE wave_id = $1 AND kind = 'forward'`,
      [w.id],
    );
    expect(r.completed_at!.getTime() - last.at.getTime()).toBeGreaterThanOrEqual(2000);
    const gets = h.sim.calls().filter((c) => c.endpoint === 'get' && c.requestId === `verify-${w.id}`);
    expect(gets).toHaveLength(50);
    expect(await h.counters(w.id)).toEqual(await countersFromTruth(h.db, w.id));
  });
});
