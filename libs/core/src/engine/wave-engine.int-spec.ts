import { appliedCounts, aWave, Counters, countersFromTruth, createEngineHarness, EngineHarness } from '@app/testing';

const ACCOUNTS = 3000;

describe('wave engine (real PostgreSQL, Redis, simulator over HTTP)', () => {
  let h: EngineHarness;

  beforeAll(async () => {
    h = await createEngineHarness('engine', { accounts: ACCOUNTS });
    await h.importPopulation({ count: ACCOUNTS, seed: 3 });
    await h.startWorker();
  });
  afterAll(async () => {
    await h?.close();
  });

  describe('runs a wave to completion', () => {
    let waveId: string;
    let counters: Counters;
    beforeAll(async () => {
      const wave = await aWave('health professionals')
        .cohorts('health')
        .protocols('imap', 'pop3')
        .rate(100_000)
        .batchSize(50)
        .started(h);
      await h.untilWaveState(wave.id, 'completed');
      waveId = wave.id;
      counters = await h.counters(wave.id);
    });

    it('every member terminal, counters exact', async () => {
      expect(counters).toEqual(await countersFromTruth(h.db, waveId));
      const [health] = await h.db.dataSource.query<{ n: string }[]>(
        `SELECT count(*) AS n FROM accounts WHERE 'health' = ANY(cohorts)`,
      );
      expect(counters.total).toBe(Number(health.n));
      expect(counters.pending ?? 0).toBe(0);
      expect(counters.in_flight ?? 0).toBe(0);
      expect(counters.enabled).toBeGreaterThan(0);
      expect(counters['skipped:password_reset_required']).toBeGreaterThan(0);
    });

    it('held back: never opened (invariant 6)', async () => {
      const held = await h.db.dataSource.query<{ login: string }[]>(
        `SELECT a.login FROM wave_members m JOIN accounts a ON a.id = m.account_id
          WHERE m.wave_id = $1 AND m.reason = 'password_reset_required'`,
        [waveId],
      );
      for (const { login } of held) expect(h.sim.account(login)?.protocols).toEqual({ imap: false, pop3: false });
    });

    it("the simulator's state equals the service's, and each account was changed at most once", async () => {
      const enabled = await h.db.dataSource.query<
        { login: string; imap_enabled: boolean; pop3_enabled: boolean; prior_imap: boolean }[]
      >(
        `SELECT a.login, a.imap_enabled, a.pop3_enabled, m.prior_imap FROM wave_members m JOIN accounts a ON a.id = m.account_id
          WHERE m.wave_id = $1 AND m.state = 'enabled'`,
        [waveId],
      );
      expect(enabled.length).toBe(counters.enabled);
      for (const a of enabled) {
        expect(h.sim.account(a.login)?.protocols).toEqual({ imap: true, pop3: true });
        expect([a.imap_enabled, a.pop3_enabled, a.prior_imap]).toEqual([true, true, false]);
      }
      const applied = appliedCounts(h.sim.calls());
      expect(Math.max(...applied.values())).toBe(1);
      expect(applied.size).toBe(counters.enabled);
    });

    it('one ledger row per member, and the commands audited', async () => {
      const [ledger] = await h.db.dataSource.query<{ n: string }[]>(
        `SELECT count(*) AS n FROM audit_log WHERE wave_id = $1 AND action LIKE 'member.%'`,
        [waveId],
      );
      expect(Number(ledger.n)).toBe(counters.total);
      const commands = await h.db.dataSource.query<{ action: string }[]>(
        `SELECT action FROM audit_log WHERE wave_id = $1 AND action LIKE 'wave.%' ORDER BY id`,
        [waveId],
      );
      expect(commands.map((c) => c.action)).toEqual([
        'wave.created',
        'wave.membership_frozen',
        'wave.start',
        'wave.complete',
      ]);
    });
  });

  it("rolls a completed wave back to each account's exact prior state; a second rollback changes nothing", async () => {
    const wave = await aWave('imap only')
      .logins(['user5@example.test', 'user6@example.test', 'user7@example.test'])
      .protocols('imap')
      .rate(1000)
      .create(h);
    // user6 already had POP on (and IMAP off) before the wave: rollback must leave POP on.
    const before6 = h.sim.account('user6@example.test')!;
    await fetch(`${h.sim.baseUrl}/accounts/user6%40example.test/access`, {
      method: 'PATCH',
      headers: {
        authorization: 'Bearer sim-token',
        'content-type': 'application/json',
        'idempotency-key': 'test-prep-user6',
      },
      body: JSON.stringify({ protocols: { pop3: true, imap: false } }),
    });
    await h.commands.start(wave.id, 'ops:test');
    await h.untilWaveState(wave.id, 'completed', { timeoutMs: 20_000 });
    const enabledLogins = (
      await h.db.dataSource.query<{ login: string }[]>(
        `SELECT a.login FROM wave_members m JOIN accounts a ON a.id = m.account_id WHERE m.wave_id = $1 AND m.state = 'enabled'`,
        [wave.id],
      )
    ).map((r) => r.login);
    for (const login of enabledLogins) expect(h.sim.account(login)!.protocols.imap).toBe(true);

    await h.commands.rollback(wave.id, 'ops:test');
    await h.untilWaveState(wave.id, 'rolled_back', { timeoutMs: 20_000 });
    if (enabledLogins.includes('user6@example.test')) {
      expect(h.sim.account('user6@example.test')!.protocols).toEqual({ imap: false, pop3: true });
      expect(h.sim.account('user6@example.test')!.version).toBeGreaterThan(before6.version);
    }
    for (const login of enabledLogins) expect(h.sim.account(login)!.protocols.imap).toBe(false);
    expect(await h.counters(wave.id)).toEqual(await countersFromTruth(h.db, wave.id));

    const callsBefore = h.sim.calls().length;
    const again = await h.commands.rollback(wave.id, 'ops:test');
    expect(again.noop).toBe(true);
    expect(h.sim.calls().length).toBe(callsBefore);
  });

  it('refuses illegal transitions with the current state and what is allowed', async () => {
    const wave = await aWave('x').remaining().protocols('pop3').rate(10).create(h);
    await expect(h.commands.pause(wave.id, 'ops:test')).rejects.toMatchObject({
      code: 'illegal_transition',
      kind: 'conflict',
      extra: { currentState: 'draft', command: 'pause', allowed: expect.arrayContaining(['start', 'cancel']) },
    });
  });
});
