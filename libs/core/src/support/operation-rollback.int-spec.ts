import {
  aWave,
  countersFromTruth,
  createEngineHarness,
  EngineHarness,
  loginRange,
  untilOperationDone,
} from '@app/testing';
import { OperationService } from './operation.service';

/** Rolling back one account: its own prior state, If-Match against later changes, counted on its wave. */
describe('single-account rollback (real services)', () => {
  let h: EngineHarness;
  let support: OperationService;
  let waveId: string;
  const members = loginRange(1, 20);

  beforeAll(async () => {
    h = await createEngineHarness('oprollback', { accounts: 100 });
    await h.importPopulation({ count: 100, seed: 81, leakedShare: 0 });
    await h.startWorker();
    support = h.support();
    // user2 had POP on before the wave: rolling it back must leave POP on.
    await fetch(`${h.sim.baseUrl}/accounts/user2%40example.test/access`, {
      method: 'PATCH',
      headers: {
        authorization: 'Bearer sim-token',
        'content-type': 'application/json',
        'idempotency-key': 'prep-user2',
      },
      body: JSON.stringify({ protocols: { pop3: true } }),
    });
    waveId = (await aWave('w').logins(members).protocols('imap', 'pop3').rate(1000).started(h)).id;
    await h.untilWaveState(waveId, 'completed', { timeoutMs: 10_000 });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('restores exactly the prior state, once; a second request has nothing left to roll back', async () => {
    const op = await support.requestRollback(
      'user2@example.test',
      { reason: 'reopened by mistake', ticket: 'INC-9' },
      'support:test',
    );
    expect(op.protocols).toEqual(['imap']); // POP was already on before the wave: not the wave's to undo
    await untilOperationDone(support, op.id);
    expect(await support.get(op.id)).toMatchObject({ state: 'succeeded', outcome: 'applied' });
    expect(h.sim.account('user2@example.test')!.protocols).toEqual({ imap: false, pop3: true });
    await expect(
      support.requestRollback('user2@example.test', { reason: 'again', ticket: 'INC-9' }, 'support:test'),
    ).rejects.toMatchObject({
      code: 'nothing_to_roll_back',
      kind: 'conflict',
    });
    const counters = await h.counters(waveId);
    expect(counters['rollback:rolled_back']).toBe(1);
    expect(counters).toEqual(await countersFromTruth(h.db, waveId));
  });

  it('reports a conflict and keeps a change made since the wave', async () => {
    const change = await support.request(
      'user3@example.test',
      'disable',
      { protocols: ['pop3'], reason: 'asked', ticket: 'INC-10' },
      'support:test',
    );
    await untilOperationDone(support, change.id);
    const op = await support.requestRollback(
      'user3@example.test',
      { reason: 'undo wave', ticket: 'INC-11' },
      'support:test',
    );
    await untilOperationDone(support, op.id);
    expect(await support.get(op.id)).toMatchObject({ state: 'failed', outcome: 'version_mismatch' });
    expect(h.sim.account('user3@example.test')!.protocols).toEqual({ imap: true, pop3: false });
    const counters = await h.counters(waveId);
    expect(counters['rollback:conflict']).toBe(1);
    expect(counters).toEqual(await countersFromTruth(h.db, waveId));
  });

  it('a wave rollback afterwards restores the others and leaves the handled ones alone', async () => {
    await h.commands.rollback(waveId, 'ops:test');
    await h.untilWaveState(waveId, 'rolled_back', { timeoutMs: 10_000 });
    const counters = await h.counters(waveId);
    expect(counters['rollback:rolled_back']).toBe(members.length - 1);
    expect(counters['rollback:conflict']).toBe(1);
    expect(counters).toEqual(await countersFromTruth(h.db, waveId));
    expect(h.sim.account('user3@example.test')!.protocols).toEqual({ imap: true, pop3: false });
  });
});
