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

  it('forward and rollback batches are sent under batchKey(wave, kind, batch), a redecided one with ~<attempts>', async () => {
    // The first batch call is refused with a 429: nothing applied, so its members are decided again under a new key.
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
    for (const b of batches) {
      const [key, attempts] = b.idempotency_key.split('~');
      expect(key).toBe(batchKey(wave.id, b.kind, Number(b.id)));
      if (attempts !== undefined) expect(attempts).toMatch(/^[1-9][0-9]*$/);
    }
    expect(batches.filter((b) => b.idempotency_key.includes('~'))).toHaveLength(1);
    // What the mailstore saw: the refused call under the first key, then every stored key.
    const sent = h.sim
      .calls()
      .filter((c) => c.endpoint === 'batch' && c.status === 200)
      .map((c) => c.idempotencyKey);
    expect(new Set(sent)).toEqual(new Set(batches.map((b) => b.idempotency_key)));
    const refused = h.sim.calls().filter((c) => c.endpoint === 'batch' && c.status === 429);
    expect(refused.map((c) => c.idempotencyKey?.split('~')[0])).toEqual([
      batches.find((b) => b.idempotency_key.includes('~'))!.idempotency_key.split('~')[0],
    ]);
  });
});
