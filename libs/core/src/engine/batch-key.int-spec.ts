import { batchKey, BatchKind } from '@app/domain';
import { aWave, createEngineHarness, EngineHarness } from '@app/testing';

const ACCOUNTS = 60;

describe('batch idempotency keys are batchKey (real claims, permits, simulator)', () => {
  let h: EngineHarness;

  beforeAll(async () => {
    h = await createEngineHarness('batch-key', { accounts: ACCOUNTS });
    await h.importPopulation({ count: ACCOUNTS, seed: 9 });
    await h.startWorker();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('forward and rollback batches are sent under batchKey(wave, kind, batch); a 429 retried with the same body keeps it', async () => {
    // The first batch call is refused with a 429: nothing applied, its members are decided again, all still eligible:
    // the same body, so the same key (a body that changed gets `~<attempts>`: wave-retry-eligibility.int-spec).
    h.sim.setFaults({ script: ['429'], retryAfterSeconds: 1 });
    const wave = await aWave('keys')
      .cohorts('health', 'general')
      .protocols('imap', 'pop3')
      .rate(1000)
      .batchSize(10)
      .started(h);
    await h.untilWaveState(wave.id, 'completed');
    await h.commands.rollback(wave.id, 'ops:test');
    await h.untilWaveState(wave.id, 'rolled_back');

    const batches = await h.db.dataSource.query<{ id: string; kind: BatchKind; idempotency_key: string }[]>(
      `SELECT id, kind, idempotency_key FROM wave_batches WHERE wave_id = $1 ORDER BY id`,
      [wave.id],
    );
    expect(new Set(batches.map((b) => b.kind))).toEqual(new Set(['forward', 'rollback']));
    for (const b of batches) expect(b.idempotency_key).toBe(batchKey(wave.id, b.kind, Number(b.id)));
    // What the mailstore saw: every stored key, the refused call's among them, with the same accounts both times.
    const calls = h.sim.calls().filter((c) => c.endpoint === 'batch');
    expect(new Set(calls.filter((c) => c.status === 200).map((c) => c.idempotencyKey))).toEqual(
      new Set(batches.map((b) => b.idempotency_key)),
    );
    const refused = calls.filter((c) => c.status === 429);
    expect(refused).toHaveLength(1);
    const retried = calls.filter((c) => c.status === 200 && c.idempotencyKey === refused[0].idempotencyKey);
    expect(retried).toHaveLength(1);
    expect([...retried[0].accounts].sort()).toEqual([...refused[0].accounts].sort());
  });
});
