import {
  aWave,
  countersAndTruth,
  countersFromTruth,
  createEngineHarness,
  EngineHarness,
  inSnapshot,
  loginRange,
  pollUntil,
} from '@app/testing';
import { OperationService } from '../support/operation.service';

/**
 * A rollback counts the members it will restore instead of marking each of them, so two paths must count the
 * members the command did not see, each exactly once: forward batches still in flight when the rollback began
 * (they settle after it), and a support rollback of one member while the wave rolls back.
 */
describe('wave rollback counting (real PostgreSQL, Redis, simulator, worker)', () => {
  let h: EngineHarness;
  let support: OperationService;
  const ACCOUNTS = 3000;

  beforeAll(async () => {
    h = await createEngineHarness('rollbackcount', { accounts: ACCOUNTS });
    await h.importPopulation({ count: ACCOUNTS, seed: 93, leakedShare: 0 });
    await h.startWorker();
    support = h.support();
  });
  afterEach(() => h.sim.setFaults({}));
  afterAll(async () => {
    await h?.close();
  });

  /** The counters and the truth read in one snapshot, while the engine runs. */
  const snapshot = (waveId: string) => inSnapshot(h.db.dataSource, (q) => countersAndTruth(q, waveId));

  it('counts forward batches that settle after the rollback began, once, and restores them', async () => {
    const wave = await aWave('stragglers')
      .cohorts('general', 'health')
      .protocols('imap')
      .rate(100_000)
      .batchSize(50)
      .concurrency(8)
      .create(h);
    // Slow answers: when the rollback lands, batches are in flight and settle after it (1.5 s: on a loaded machine the
    // command itself can take longer than 400 ms, and every batch had settled by then).
    h.sim.setFaults({ latencyMs: 1500, endpoints: ['batch'] });
    await h.commands.start(wave.id, 'ops:test');
    await h.untilCounters(wave.id, (c) => (c.enabled ?? 0) >= 400 && (c.in_flight ?? 0) >= 100, {
      description: 'batches in flight after some have settled',
    });
    await h.commands.rollback(wave.id, 'ops:test');
    const inFlightAtCommand = (await h.counters(wave.id)).in_flight ?? 0;
    expect(inFlightAtCommand).toBeGreaterThan(0);
    // While stragglers settle and rollback batches run: the counters equal the truth in every snapshot.
    let samples = 0;
    while ((await h.waveStatus(wave.id)).state === 'rolling_back' && samples < 40) {
      const { counters, truth } = await snapshot(wave.id);
      expect(counters).toEqual(truth);
      samples++;
    }
    expect(samples).toBeGreaterThan(0);
    await h.untilWaveState(wave.id, 'rolled_back', { timeoutMs: 60_000, description: 'rolled back' });
    const end = await h.counters(wave.id);
    expect(end).toEqual(await countersFromTruth(h.db, wave.id));
    expect(end['rollback:total']).toBe(end.enabled);
    expect(end['rollback:rolled_back']).toBe(end.enabled);
    const [left] = await h.db.dataSource.query<{ n: string }[]>(
      `SELECT count(*) AS n FROM wave_members WHERE wave_id = $1 AND state = 'enabled'
          AND rollback_state IS DISTINCT FROM 'rolled_back'`,
      [wave.id],
    );
    expect(Number(left.n)).toBe(0);
    // The simulator agrees: nobody the wave opened still has IMAP.
    const opened = await h.db.dataSource.query<{ login: string }[]>(
      `SELECT a.login FROM wave_members m JOIN accounts a ON a.id = m.account_id
        WHERE m.wave_id = $1 AND m.state = 'enabled' AND NOT m.prior_imap`,
      [wave.id],
    );
    expect(opened.length).toBe(end.enabled);
    expect(opened.filter((r) => h.sim.account(r.login)?.protocols.imap)).toEqual([]);
  });

  it('a support rollback of a member while its wave rolls back is counted once', async () => {
    const wave = await aWave('support during rollback')
      .logins(loginRange(1, 60))
      .protocols('pop3')
      .rate(100_000)
      .batchSize(10)
      .concurrency(1)
      .started(h);
    await h.untilWaveState(wave.id, 'completed', { timeoutMs: 10_000, description: 'completed' });
    const enabled = (await h.counters(wave.id)).enabled;
    expect(enabled).toBeGreaterThan(10);
    const [last] = await h.db.dataSource.query<{ login: string }[]>(
      `SELECT a.login FROM wave_members m JOIN accounts a ON a.id = m.account_id
        WHERE m.wave_id = $1 AND m.state = 'enabled' ORDER BY m.seq DESC LIMIT 1`,
      [wave.id],
    );
    // One slow pump restoring in seq order: the last member is still waiting when support takes it.
    h.sim.setFaults({ latencyMs: 300, endpoints: ['batch'] });
    await h.commands.rollback(wave.id, 'ops:test');
    const op = await support.requestRollback(
      last.login,
      { waveId: wave.id, reason: 'practice software broke', ticket: 'SUP-77' },
      'support:test',
    );
    const { counters, truth } = await snapshot(wave.id);
    expect(counters).toEqual(truth);
    expect(counters['rollback:total']).toBe(enabled);
    await h.untilWaveState(wave.id, 'rolled_back', { timeoutMs: 60_000, description: 'rolled back' });
    await pollUntil(async () => (await support.get(op.id)).state === 'succeeded', { description: 'operation done' });
    const end = await h.counters(wave.id);
    expect(end).toEqual(await countersFromTruth(h.db, wave.id));
    expect(end['rollback:total']).toBe(enabled);
    expect(end['rollback:rolled_back']).toBe(enabled);
    const [member] = await h.db.dataSource.query<{ rollback_batch_id: string | null; rollback_state: string }[]>(
      `SELECT m.rollback_batch_id, m.rollback_state FROM wave_members m JOIN accounts a ON a.id = m.account_id
        WHERE m.wave_id = $1 AND a.login = $2`,
      [wave.id, last.login],
    );
    // Restored by support's operation, not by a rollback batch.
    expect(member).toEqual({ rollback_batch_id: null, rollback_state: 'rolled_back' });
  });
});
