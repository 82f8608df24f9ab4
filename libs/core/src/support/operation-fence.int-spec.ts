import { createEngineHarness, EngineHarness } from '@app/testing';
import { createMailstore } from '../core-graph';
import { Throttle } from '../engine/throttle';
import { OperationRunner } from './operation-runner';
import { OperationService } from './operation.service';

/**
 * A support operation's run whose worker froze past its job's lock, while another worker ran the operation again: the
 * frozen run's answer, arriving last, must not finish the operation, count a call as its outcome, or write the
 * account's state over the later run's. A run's attempt number is its fence.
 */
describe("a support operation's stale run (real PostgreSQL, Redis, simulator)", () => {
  let h: EngineHarness;
  let support: OperationService;
  let runner: OperationRunner;

  beforeAll(async () => {
    h = await createEngineHarness('opfence', { accounts: 10 });
    await h.importPopulation({ count: 10, seed: 47, leakedShare: 0 });
    support = h.support();
    runner = new OperationRunner(
      h.db.dataSource,
      createMailstore(h.config, 2),
      new Throttle(h.redis.client, h.redis.prefix),
    );
  });
  afterAll(async () => {
    h.sim.setFaults({});
    await h?.close();
  });

  it('writes nothing once another run began; the later run finishes it', async () => {
    const login = 'user4@example.test';
    const op = await support.request(
      login,
      'enable',
      { protocols: ['imap'], reason: 'practice software', ticket: 'INC-41' },
      'support:test',
    );
    h.sim.setFaults({ latencyMs: 1500, endpoints: ['patch'] });
    const stale = runner.run(op.id);
    const attempts = async () =>
      (await h.db.dataSource.query<{ attempts: number }[]>(`SELECT attempts FROM operations WHERE id = $1`, [op.id]))[0]
        .attempts;
    while ((await attempts()) < 1) await new Promise((resolve) => setTimeout(resolve, 20));
    // Another worker takes the operation over (its run begins: the next attempt), while the first run's call is out.
    await h.db.dataSource.query(`UPDATE operations SET attempts = attempts + 1 WHERE id = $1`, [op.id]);

    expect(await stale).toBe('superseded');
    expect(await support.get(op.id)).toMatchObject({ state: 'running', outcome: null, attempts: 2 });
    const audited = async () =>
      (
        await h.db.dataSource.query<{ n: number }[]>(
          `SELECT count(*)::int AS n FROM audit_log WHERE operation_id = $1 AND action = 'support.enabled'`,
          [op.id],
        )
      )[0].n;
    expect(await audited()).toBe(0);

    h.sim.setFaults({});
    expect(await runner.run(op.id)).toBe('succeeded');
    expect(await support.get(op.id)).toMatchObject({ state: 'succeeded', attempts: 3 });
    expect(await audited()).toBe(1);
    expect(h.sim.account(login)!.protocols.imap).toBe(true);
  });
});
