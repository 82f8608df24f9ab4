import { aWave, countersFromTruth, createEngineHarness, EngineHarness, loginAllocator, pollUntil } from '@app/testing';

/**
 * Two waves open IMAP on the same accounts at the same moment, and both answers are lost after the mailstore applied
 * them (A's write opened IMAP; B's found it open). The mailstore keeps no answer under its key (as a native driver), so
 * each resend is answered afresh: every account already as asked. Each wave must tell its own earlier
 * attempt's work from the other's, and the other has not recorded its write yet: before, each waited for the other
 * (the whole batch resent later, still in doubt) until both paused. Now a waiting batch is marked undecided, and an
 * older one does not wait for a younger one that waits: the older decides (its members the wave's own, a rollback
 * closes them), the younger then finds that write recorded and skips its members as already open.
 */
describe('two waves resending in doubt on the same accounts (real PostgreSQL, Redis, simulator, worker)', () => {
  let h: EngineHarness;
  const logins = loginAllocator();

  beforeAll(async () => {
    h = await createEngineHarness(
      'mutual',
      { accounts: 20, idempotencyTtlSeconds: 0 },
      { BATCH_RETRY_BASE_MS: '300', BATCH_RETRY_MAX_MS: '600', BATCH_MAX_CONSECUTIVE_FAILURES: '8' },
    );
    await h.importPopulation({ count: 20, seed: 47, leakedShare: 0 });
    await h.startWorker();
  });
  afterAll(async () => {
    h.sim.setFaults({});
    await h?.close();
  });

  const q = <T>(text: string, params: unknown[]) => h.db.dataSource.query<T[]>(text, params);

  it('both complete, the older batch’s wave owning the accounts, and its rollback closes them', async () => {
    const members = logins(10);
    // Each batch call waits 1.5 s at the mailstore before it applies: both waves' first calls take the script's two
    // entries before either resend can arrive. Without it the resend came 0–300 ms after its first call (full
    // jitter), sometimes before the other wave's first call, and took its drop: that call was answered 'ok' (CI, 04d0931).
    h.sim.setFaults({ script: ['drop_after_apply', 'drop_after_apply'], endpoints: ['batch'], latencyMs: 1500 });
    const [a, b] = await Promise.all(
      ['mutual-a', 'mutual-b'].map((name) =>
        aWave(name).logins(members).protocols('imap').rate(1000).batchSize(10).started(h),
      ),
    );
    for (const w of [a, b]) {
      await pollUntil(
        async () => {
          const s = await h.waveStatus(w.id);
          if (s.state === 'paused') throw new Error(`wave ${w.id} paused: ${s.status_reason}`);
          return s.state === 'completed';
        },
        { timeoutMs: 45_000, description: `wave ${w.id} completed` },
      );
    }
    // The premise: both first answers lost, each resent and answered afresh (the key forgotten), not replayed.
    for (const w of [a, b]) {
      const calls = h.batchCalls(w.id);
      expect(calls[0]?.outcome).toBe('dropped_after_apply');
      expect(calls.slice(1).some((c) => c.idempotencyKey === calls[0].idempotencyKey && c.outcome !== 'replayed')).toBe(
        true,
      );
    }
    const [older, younger] = await q<{ wave_id: string; undecided: boolean }>(
      `SELECT wave_id, undecided FROM wave_batches WHERE wave_id = ANY($1) AND kind = 'forward' ORDER BY id`,
      [[a.id, b.id]],
    );
    // The younger waited for the older (undecided) at least once.
    expect(younger.undecided).toBe(true);
    const states = async (waveId: string) =>
      q<{ k: string; n: number }>(
        `SELECT state || COALESCE('/' || reason, '') AS k, count(*)::int AS n FROM wave_members
          WHERE wave_id = $1 GROUP BY 1`,
        [waveId],
      );
    expect(await states(older.wave_id)).toEqual([{ k: 'enabled', n: 10 }]);
    expect(await states(younger.wave_id)).toEqual([{ k: 'skipped/already_enabled', n: 10 }]);
    expect(members.filter((m) => !h.sim.account(m)!.protocols.imap)).toEqual([]);
    for (const w of [a, b]) expect(await h.counters(w.id)).toEqual(await countersFromTruth(h.db, w.id));

    await h.commands.rollback(older.wave_id, 'ops:test');
    await h.untilWaveState(older.wave_id, 'rolled_back');
    expect(members.filter((m) => h.sim.account(m)!.protocols.imap)).toEqual([]);
  }, 90_000);
});
