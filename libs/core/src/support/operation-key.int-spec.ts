import { operationKey } from '@app/domain';
import { createEngineHarness, EngineHarness, untilOperationDone } from '@app/testing';
import { OperationService } from './operation.service';

describe('support operations are sent under operationKey(their id) (real services, simulator)', () => {
  let h: EngineHarness;
  let support: OperationService;

  beforeAll(async () => {
    h = await createEngineHarness('opkey', { accounts: 10 });
    await h.importPopulation({ count: 10, seed: 4, leakedShare: 0 });
    await h.startWorker();
    support = h.support();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('an enable and a re-block: each stored and sent under the key derived from its id, different ones', async () => {
    const change = { reason: 'customer asked', ticket: 'SUP-7' };
    const enable = await support.request('user3@example.test', 'enable', change, 'support:test');
    await untilOperationDone(support, enable.id);
    const disable = await support.request('user3@example.test', 'disable', change, 'support:test');
    await untilOperationDone(support, disable.id);

    const stored = await h.db.dataSource.query<{ id: string; idempotency_key: string; state: string }[]>(
      `SELECT id, idempotency_key, state FROM operations ORDER BY created_at`,
    );
    expect(stored).toEqual([
      { id: enable.id, idempotency_key: operationKey(enable.id), state: 'succeeded' },
      { id: disable.id, idempotency_key: operationKey(disable.id), state: 'succeeded' },
    ]);
    const sent = h.sim
      .calls()
      .filter((c) => c.endpoint !== 'capabilities')
      .map((c) => c.idempotencyKey);
    expect(sent).toEqual([operationKey(enable.id), operationKey(disable.id)]);
    expect(h.sim.account('user3@example.test')!.protocols).toEqual({ imap: false, pop3: false });
  });
});
