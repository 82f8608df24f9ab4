import { Gate } from '@app/domain';
import { GateEvaluator } from './gate-evaluator';
import { aWave, createEngineHarness, EngineHarness, loginAllocator, pollUntil } from '@app/testing';

/** Gates against the real services: each action, and a signal that stops arriving. */
describe('gates (real PostgreSQL, Redis, simulator, worker)', () => {
  let h: EngineHarness;
  const logins = loginAllocator();

  beforeAll(async () => {
    h = await createEngineHarness('gates', { accounts: 4000 }, { GATE_INTERVAL_MS: '200' });
    await h.importPopulation({ count: 4000, seed: 21, leakedShare: 0 });
    await h.startWorker();
  });
  afterAll(async () => {
    await h?.close();
  });

  const wave = async (gates: Gate[], n = 600) => {
    const gated = aWave('gated')
      .logins(logins(n))
      .protocols('imap')
      .rate(200)
      .batchSize(20)
      .gates(...gates);
    return (await gated.create(h)).id;
  };
  const row = async (id: string) =>
    (
      await h.db.dataSource.query<
        {
          state: string;
          status_reason: string | null;
          status_detail: { gates: { gate: string; status: string; value?: number }[] } | null;
        }[]
      >(`SELECT state, status_reason, status_detail FROM waves WHERE id = $1`, [id])
    )[0];
  const signal = (name: string, value: number, cohort: string | null = 'health', ageSeconds = 0) =>
    h.db.dataSource.query(
      `INSERT INTO signals (name, value, window_seconds, observed_at, cohort) VALUES ($1, $2, 60, now() - ($3 || ' seconds')::interval, $4)`,
      [name, value, String(ageSeconds), cohort],
    );
  /** A gate on one signal of the `health` cohort: one sample in the last minute decides. */
  const signalGate = (g: Pick<Gate, 'name' | 'signal' | 'threshold' | 'action'>): Gate => ({
    ...g,
    metric: 'signal',
    cohort: 'health',
    windowSeconds: 60,
    minSamples: 1,
  });
  const callsOf = (id: string) => h.sim.calls().filter((c) => c.idempotencyKey?.includes(id));

  it('halts on a breaching signal within seconds, with the gate and its value in the status and the audit', async () => {
    await signal('failed_logins_halt', 10);
    const id = await wave([
      signalGate({ name: 'failed-logins', signal: 'failed_logins_halt', threshold: 100, action: 'halt' }),
    ]);
    await h.commands.start(id, 'ops:test');
    await pollUntil(() => callsOf(id).length >= 2, { description: 'wave under way' });
    await signal('failed_logins_halt', 450);
    const pushed = Date.now();
    await h.untilWaveState(id, 'halted', { timeoutMs: 5000, description: 'halted within 5 s' });
    const tookMs = Date.now() - pushed;
    const r = await row(id);
    expect(r.status_reason).toBe('gate:failed-logins');
    expect(r.status_detail?.gates).toEqual([
      expect.objectContaining({ gate: 'failed-logins', status: 'breached', value: 450 }),
    ]);
    expect(tookMs).toBeLessThan(5000);
    const [audit] = await h.db.dataSource.query<{ actor: string; after: { state: string; reason: string } }[]>(
      `SELECT actor, after FROM audit_log WHERE wave_id = $1 AND action = 'wave.halt'`,
      [id],
    );
    expect(audit).toEqual({ actor: 'engine', after: { state: 'halted', reason: 'gate:failed-logins' } });
    // Halted stays halted: the system may not resume it, only ops.
    await expect(h.commands.endBake(id, 0)).resolves.toBeNull();
    expect((await row(id)).state).toBe('halted');
  });

  it('halts and rolls back: everything the wave opened is closed again', async () => {
    await signal('failed_logins_rb', 5);
    const id = await wave([
      signalGate({ name: 'spike', signal: 'failed_logins_rb', threshold: 50, action: 'halt_and_rollback' }),
    ]);
    await h.commands.start(id, 'ops:test');
    await pollUntil(() => callsOf(id).length >= 3, { description: 'wave under way' });
    await signal('failed_logins_rb', 80);
    await h.untilWaveState(id, 'rolled_back', { timeoutMs: 20_000, description: 'rolled back' });
    const opened = await h.db.dataSource.query<{ login: string; rollback_state: string }[]>(
      `SELECT a.login, m.rollback_state FROM wave_members m JOIN accounts a ON a.id = m.account_id WHERE m.wave_id = $1 AND m.state = 'enabled'`,
      [id],
    );
    expect(opened.length).toBeGreaterThan(0);
    for (const o of opened) {
      expect(o.rollback_state).toBe('rolled_back');
      expect(h.sim.account(o.login)!.protocols.imap).toBe(false);
    }
  });

  it('pauses on mailstore latency above the threshold', async () => {
    h.sim.setFaults({ latencyMs: 150, endpoints: ['batch'] });
    try {
      const id = await wave([
        {
          name: 'slow',
          metric: 'mailstore_p95_latency_ms',
          windowSeconds: 30,
          minSamples: 3,
          threshold: 100,
          action: 'pause',
        },
      ]);
      await h.commands.start(id, 'ops:test');
      await h.untilWaveState(id, 'paused', { timeoutMs: 10_000, description: 'paused by latency' });
      expect((await row(id)).status_reason).toBe('gate:slow');
    } finally {
      h.sim.setFaults({});
    }
  });

  it('pauses as inconclusive when a signal stops arriving: missing data never means go', async () => {
    await signal('failed_logins_stale', 1, 'health', 3600); // last seen an hour ago
    const id = await wave([
      signalGate({ name: 'watch', signal: 'failed_logins_stale', threshold: 100, action: 'halt' }),
    ]);
    await h.commands.start(id, 'ops:test');
    await h.untilWaveState(id, 'paused', { timeoutMs: 5000, description: 'paused as inconclusive' });
    expect((await row(id)).status_reason).toBe('inconclusive:watch');
  });

  it('check(): what the gates would decide now, acting on nothing (a stale signal, a silent login stream)', async () => {
    await signal('feed_fresh', 3, 'health', 5);
    await signal('feed_stale', 3, 'health', 3600);
    const id = await wave([
      signalGate({ name: 'fresh', signal: 'feed_fresh', threshold: 100, action: 'halt' }),
      signalGate({ name: 'stale', signal: 'feed_stale', threshold: 100, action: 'halt' }),
      {
        name: 'stuffing',
        metric: 'login_failures_per_minute',
        windowSeconds: 120,
        minSamples: 10,
        threshold: 30,
        action: 'halt',
      },
    ]);
    const check = new GateEvaluator(h.db.dataSource, h.commands, { timeoutMs: 1000 });
    const results = await check.check(id);
    expect(results?.map((r) => [r.gate, r.status])).toEqual([
      ['fresh', 'ok'],
      ['stale', 'inconclusive'],
      ['stuffing', 'inconclusive'], // no login event from the mail server ever: the wave would pause at once
    ]);
    expect(results?.[2].reason).toMatch(/^no login event for a known account from the mail server ever/);
    // Nothing acted on, nothing written: still a draft, no verdict on its row.
    const [after] = await h.db.dataSource.query<{ state: string; gate_state: unknown }[]>(
      `SELECT state, gate_state FROM waves WHERE id = $1`,
      [id],
    );
    expect(after).toEqual({ state: 'draft', gate_state: null });
    expect(await check.check('00000000-0000-4000-8000-000000000000')).toBeNull();
  });
});
