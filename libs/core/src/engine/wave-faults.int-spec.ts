import {
  appliedCounts,
  aWave,
  cleanRecord,
  countersFromTruth,
  createEngineHarness,
  EngineHarness,
  loginAllocator,
  pollUntil,
  recordVsMailstore,
} from '@app/testing';

/**
 * The fault suite's mailstore scenarios: answers lost after applying, hanging calls, a mailstore unreachable
 * long enough to pause the wave, and a rollback racing a support change. Each checks the brief's invariants.
 */
describe('mailstore faults (real PostgreSQL, Redis, simulator, worker)', () => {
  let h: EngineHarness;
  const logins = loginAllocator();

  beforeAll(async () => {
    h = await createEngineHarness('faults', { accounts: 5000 }, { MAILSTORE_TIMEOUT_MS: '800' });
    await h.importPopulation({ count: 5000, seed: 31, leakedShare: 0 });
    await h.startWorker();
  });
  afterAll(async () => {
    h.sim.setFaults({});
    await h?.close();
  });
  afterEach(() => h.sim.setFaults({}));

  const start = async (members: string[], rate = 5000, batchSize = 50) =>
    (await aWave('fault').logins(members).protocols('imap', 'pop3').rate(rate).batchSize(batchSize).started(h)).id;

  /** Invariants 1, 2, 4 and the simulator agreeing with the service, for one wave. */
  async function expectInvariants(waveId: string, members: string[]): Promise<void> {
    const counters = await h.counters(waveId);
    expect(counters).toEqual(await countersFromTruth(h.db, waveId));
    expect((counters.enabled ?? 0) + (counters.skipped ?? 0) + (counters.failed ?? 0) + (counters.cancelled ?? 0)).toBe(
      members.length,
    );
    const applied = appliedCounts(h.sim.calls(), (a) => members.includes(a));
    expect([...applied.values()].every((n) => n === 1)).toBe(true);
    const rows = await h.db.dataSource.query<{ login: string; state: string }[]>(
      `SELECT a.login, m.state FROM wave_members m JOIN accounts a ON a.id = m.account_id WHERE m.wave_id = $1`,
      [waveId],
    );
    for (const r of rows) {
      const sim = h.sim.account(r.login)!.protocols;
      expect([r.login, r.state, sim.imap && sim.pop3]).toEqual([r.login, r.state, r.state === 'enabled']);
    }
    expect(await recordVsMailstore(h, waveId, members)).toEqual(cleanRecord(waveId));
  }

  it('answers lost after applying: retried with the same key, replayed, applied once', async () => {
    h.sim.setFaults({ rateDropAfterApply: 0.4, endpoints: ['batch'], seed: 7 });
    const members = logins(600);
    const id = await start(members);
    // At 40 % lost answers a batch sometimes loses five in a row (seen in about 1 run in 10 under load): the wave
    // then pauses as mailstore_unreachable by design, keeping the batch and its key. Ops resume it, as here.
    let resumed = 0;
    await pollUntil(
      async () => {
        const s = await h.waveStatus(id);
        if (s.state === 'paused' && s.status_reason === 'mailstore_unreachable') {
          await h.commands.resume(id, 'ops:test');
          resumed++;
        }
        return s.state === 'completed';
      },
      { timeoutMs: 50_000, description: 'wave completed (resumed after any pause)' },
    );
    if (resumed > 0) {
      const [kept] = await h.db.dataSource.query<{ n: string }[]>(
        `SELECT count(*) AS n FROM audit_log WHERE wave_id = $1 AND action = 'wave.resume'`,
        [id],
      );
      expect(Number(kept.n)).toBe(resumed);
    }
    const dropped = h.sim.calls().filter((c) => c.outcome === 'dropped_after_apply' && c.idempotencyKey?.includes(id));
    expect(dropped.length).toBeGreaterThan(0);
    for (const d of dropped) {
      const replay = h.sim.calls().find((c) => c.idempotencyKey === d.idempotencyKey && c.outcome === 'replayed');
      expect(replay).toBeDefined();
    }
    await expectInvariants(id, members);
  });

  it('hanging calls time out and are retried with the same key; nothing lost', async () => {
    h.sim.setFaults({ rateHang: 0.25, hangMs: 1500, endpoints: ['batch'], seed: 3 });
    const members = logins(400);
    const id = await start(members);
    await h.untilWaveState(id, 'completed', { timeoutMs: 60_000 });
    expect(h.sim.calls().some((c) => c.outcome === 'hang' && c.idempotencyKey?.includes(id))).toBe(true);
    await expectInvariants(id, members);
  });

  it('a mailstore unreachable for a while pauses the wave; after ops resume it finishes without loss', async () => {
    const members = logins(1200);
    const id = await start(members, 1000, 20);
    await h.untilCounters(id, (c) => (c.enabled ?? 0) >= 100, { description: 'under way' });
    h.sim.setFaults({ unreachable: true });
    await h.untilWaveState(id, 'paused', { timeoutMs: 30_000 });
    expect((await h.waveStatus(id)).status_reason).toBe('mailstore_unreachable');
    const [held] = await h.db.dataSource.query<{ n: string }[]>(
      `SELECT count(*) AS n FROM wave_batches WHERE wave_id = $1 AND state = 'claimed' AND attempts > 0`,
      [id],
    );
    expect(Number(held.n)).toBeGreaterThan(0); // kept with its key, not released
    h.sim.setFaults({});
    await h.commands.resume(id, 'ops:test');
    await h.untilWaveState(id, 'completed');
    await expectInvariants(id, members);
  });

  it("rollback racing a support change: the changed account is reported as a conflict and keeps support's change", async () => {
    const members = logins(100);
    const id = await start(members);
    await h.untilWaveState(id, 'completed');
    const support = h.support();
    const target = members[10];
    const op = await support.request(
      target,
      'disable',
      { protocols: ['pop3'], reason: 'customer asked', ticket: 'INC-7' },
      'support:test',
    );
    await pollUntil(async () => (await support.get(op.id)).state === 'succeeded', {
      description: 'support change applied',
    });
    expect(h.sim.account(target)!.protocols).toEqual({ imap: true, pop3: false });

    await h.commands.rollback(id, 'ops:test');
    await h.untilWaveState(id, 'rolled_back');
    const [member] = await h.db.dataSource.query<{ rollback_state: string }[]>(
      `SELECT m.rollback_state FROM wave_members m JOIN accounts a ON a.id = m.account_id WHERE m.wave_id = $1 AND a.login = $2`,
      [id, target],
    );
    expect(member.rollback_state).toBe('conflict');
    expect(h.sim.account(target)!.protocols).toEqual({ imap: true, pop3: false }); // support's change kept
    for (const other of members.filter((m) => m !== target))
      expect(h.sim.account(other)!.protocols).toEqual({ imap: false, pop3: false });
    const counters = await h.counters(id);
    expect(counters['rollback:conflict']).toBe(1);
    expect(counters['rollback:rolled_back']).toBe(members.length - 1);
    expect(counters).toEqual(await countersFromTruth(h.db, id));
  });
});
