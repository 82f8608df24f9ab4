import { OperationEntity } from '@app/db';
import {
  aWave,
  countersFromTruth,
  createEngineHarness,
  EngineHarness,
  loginRange,
  untilOperationDone,
  WorkerProcess,
} from '@app/testing';
import { OperationService } from './operation.service';
import { operationPatch } from './support-rules';

/**
 * Support's operation run again after a run that may have sent its PATCH (the worker died after sending): the
 * mailstore answers afresh (a native driver keeps nothing per key; here the simulator forgets keys after 1 s), so the
 * account is already as asked, by our own earlier attempt. A rollback's If-Match then gets 412: read as a conflict,
 * the member was recorded as somebody else's change and the operation failed, although the account was closed by it.
 * Needs the build (the wave runs in a worker process that is then killed).
 */
describe('a support operation run again in doubt (real PostgreSQL, Redis, simulator, worker)', () => {
  let h: EngineHarness;
  let support: OperationService;
  let waveId: string;

  /** What the dead run sent: the operation's own PATCH, applied at the simulator under a key since forgotten. */
  async function earlierAttemptApplied(op: OperationEntity): Promise<void> {
    const { request, options } = operationPatch(op);
    const res = await fetch(`${h.sim.baseUrl}/accounts/${encodeURIComponent(op.login)}/access`, {
      method: 'PATCH',
      headers: {
        authorization: 'Bearer sim-token',
        'content-type': 'application/json',
        'idempotency-key': `earlier-${op.id}`,
        ...(options.ifMatch === undefined ? {} : { 'if-match': `"${options.ifMatch}"` }),
      },
      body: JSON.stringify(request),
    });
    expect(res.status).toBe(200);
    // The run that sent it died after marking the operation running.
    await h.db.dataSource.query(`UPDATE operations SET state = 'running', attempts = 1 WHERE id = $1`, [op.id]);
  }

  beforeAll(async () => {
    h = await createEngineHarness('opdoubt', { accounts: 50, idempotencyTtlSeconds: 1 });
    await h.importPopulation({ count: 50, seed: 83, leakedShare: 0 });
    support = h.support();
    const worker = await WorkerProcess.start(h.env);
    try {
      waveId = (await aWave('w').logins(loginRange(1, 5)).protocols('imap', 'pop3').rate(1000).started(h)).id;
      await h.untilWaveState(waveId, 'completed', { timeoutMs: 20_000 });
    } finally {
      await worker.kill();
    }
  });
  afterAll(async () => {
    await h?.close();
  });

  it('counts what the earlier run did as made: the rollback closed the member, the enable opened the account', async () => {
    const rollback = await support.requestRollback(
      'user2@example.test',
      { reason: 'reopened by mistake', ticket: 'INC-21' },
      'support:test',
    );
    const enable = await support.request(
      'user30@example.test',
      'enable',
      { protocols: ['imap'], reason: 'practice software', ticket: 'INC-22' },
      'support:test',
    );
    await earlierAttemptApplied(await support.get(rollback.id));
    await earlierAttemptApplied(await support.get(enable.id));
    await new Promise((resolve) => setTimeout(resolve, 1500)); // the simulator forgets the earlier keys

    await h.startWorker();
    await untilOperationDone(support, rollback.id, { timeoutMs: 20_000 });
    await untilOperationDone(support, enable.id, { timeoutMs: 20_000 });

    expect(await support.get(rollback.id)).toMatchObject({ state: 'succeeded', outcome: 'applied', attempts: 2 });
    expect(h.sim.account('user2@example.test')!.protocols).toEqual({ imap: false, pop3: false });
    const [member] = await h.db.dataSource.query<{ rollback_state: string }[]>(
      `SELECT m.rollback_state FROM wave_members m JOIN accounts a ON a.id = m.account_id
        WHERE m.wave_id = $1 AND a.login = 'user2@example.test'`,
      [waveId],
    );
    expect(member.rollback_state).toBe('rolled_back');
    const counters = await h.counters(waveId);
    expect(counters['rollback:rolled_back']).toBe(1);
    expect(counters['rollback:conflict'] ?? 0).toBe(0);
    expect(counters).toEqual(await countersFromTruth(h.db, waveId));

    expect(await support.get(enable.id)).toMatchObject({ state: 'succeeded', outcome: 'applied' });
    expect(h.sim.account('user30@example.test')!.protocols).toMatchObject({ imap: true });
  });

  it("does not count as made an account a wave's recorded write put as asked between the two runs", async () => {
    await h.stopWorkers();
    // user3 was opened by the wave (its member recorded enabled at the version it answered). The earlier run of this
    // enable died before its PATCH left; the run again finds the account as asked: the wave's write, not ours.
    const enable = await support.request(
      'user3@example.test',
      'enable',
      { protocols: ['imap'], reason: 'practice software', ticket: 'INC-23' },
      'support:test',
    );
    await h.db.dataSource.query(`UPDATE operations SET state = 'running', attempts = 1 WHERE id = $1`, [enable.id]);
    const [member] = await h.db.dataSource.query<{ result_version: number }[]>(
      `SELECT m.result_version FROM wave_members m JOIN accounts a ON a.id = m.account_id
        WHERE m.wave_id = $1 AND a.login = 'user3@example.test' AND m.state = 'enabled'`,
      [waveId],
    );
    expect(h.sim.account('user3@example.test')!.version).toBe(member.result_version);

    await h.startWorker();
    await untilOperationDone(support, enable.id, { timeoutMs: 20_000 });
    expect(await support.get(enable.id)).toMatchObject({
      state: 'succeeded',
      outcome: 'unchanged',
      resultVersion: member.result_version,
    });
  });
});
