import {
  aWave,
  cleanRecord,
  engineBehindGateway,
  EngineHarness,
  HttpGateway,
  loginAllocator,
  pollUntil,
  recordVsMailstore,
} from '@app/testing';

/**
 * A mailstore that takes fewer items per batch call than it advertises (a gateway in front of the simulator answering
 * 413 batch_too_large with its maxItems to a larger batch, nothing applied: contract §3, "split"). The batches it
 * refuses are not failed: their members are claimed again in batches of at most maxItems, forward and rollback alike.
 */
describe('batches the mailstore finds too large (real PostgreSQL, Redis, simulator behind a gateway, worker)', () => {
  let h: EngineHarness;
  let gateway: HttpGateway;
  /** The most items the gateway lets through per batch call. */
  let maxItems = 1000;
  /** Batch calls the gateway refused, by their size. */
  const refused: number[] = [];
  const logins = loginAllocator();

  beforeAll(async () => {
    ({ h, gateway } = await engineBehindGateway('toolarge', { accounts: 40, seed: 71 }));
    gateway.intercept = (req, body) => {
      if (req.method !== 'POST' || !req.url?.endsWith('/access/batch')) return undefined;
      const items = (JSON.parse(body.toString()) as { items: unknown[] }).items.length;
      if (items <= maxItems) return undefined;
      refused.push(items);
      return { status: 413, problem: { code: 'batch_too_large', maxItems } };
    };
  });
  afterAll(async () => {
    await h?.close();
    await gateway?.close();
  });

  it('splits them: every member enabled, none failed; then the rollback, split again, restores every one', async () => {
    const members = logins(12);
    maxItems = 3;
    const wave = await aWave('toolarge').logins(members).protocols('imap').rate(1000).batchSize(6).started(h);
    await h.untilWaveState(wave.id, ['completed', 'paused', 'halted'], { timeoutMs: 30_000 });
    expect((await h.waveStatus(wave.id)).state).toBe('completed');
    expect(await h.counters(wave.id)).toMatchObject({ enabled: 12 });
    expect((await h.counters(wave.id)).failed ?? 0).toBe(0);
    expect(members.every((m) => h.sim.account(m)!.protocols.imap)).toBe(true);
    // The premise: batches of 6 were refused, batches of at most 3 passed.
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.every((n) => n === 6)).toBe(true);
    expect(Math.max(...h.batchCalls(wave.id).map((c) => c.applied.length))).toBeLessThanOrEqual(3);
    refused.length = 0;
    // The limit recorded for the preview is the one the worker now applies.
    await pollUntil(
      async () =>
        (await h.db.dataSource.query<{ l: number }[]>(`SELECT batch_size_limit AS l FROM mailstore_capabilities`))[0]
          ?.l === 3,
      { description: 'batch_size_limit 3 recorded' },
    );
    expect(await recordVsMailstore(h, wave.id, members)).toEqual(cleanRecord(wave.id));

    maxItems = 1;
    await h.commands.rollback(wave.id, 'ops:test');
    await h.untilWaveState(wave.id, 'rolled_back', { timeoutMs: 30_000 });
    expect(refused.length).toBeGreaterThan(0); // rollback batches of 3 refused, then sent one by one
    expect(members.filter((m) => h.sim.account(m)!.protocols.imap)).toEqual([]);
    expect((await h.counters(wave.id))['rollback:failed'] ?? 0).toBe(0);
    expect(await recordVsMailstore(h, wave.id, members, { rolledBack: true })).toEqual(cleanRecord(wave.id));
  });
});
