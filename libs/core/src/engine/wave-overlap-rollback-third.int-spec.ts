import { aWave, countersFromTruth, createEngineHarness, EngineHarness, loginAllocator, pollUntil } from '@app/testing';

/**
 * Two overlapping waves rolled back at once after support changed their accounts: A opened IMAP, B POP3, then support
 * closed POP3 (a write that records no version it found). Both rollbacks conflict (support's write is in the way of
 * both), and each batch, in flight at the same moment as the other, first sees the other as a writer of ours that may
 * not have recorded its write yet. Each must still end: the batch settles what it could decide and sends such a
 * member back to wait (`member.rollback.reasked`, reason undecided_other_writer, bounded), to be judged again once
 * the other has recorded. Before, the batch itself waited, undecided, keeping its own applied items unrecorded: the
 * two rollbacks waited for each other and neither ended.
 */
describe('two rollbacks at once, both refused by a third writer (real PostgreSQL, Redis, simulator, worker)', () => {
  let h: EngineHarness;
  const logins = loginAllocator();

  beforeAll(async () => {
    h = await createEngineHarness(
      'ovrthird',
      { accounts: 40 },
      { BATCH_RETRY_BASE_MS: '200', BATCH_RETRY_MAX_MS: '400', BATCH_MAX_CONSECUTIVE_FAILURES: '4' },
    );
    await h.importPopulation({ count: 40, seed: 45, leakedShare: 0 });
    await h.startWorker();
  });
  afterAll(async () => {
    h.sim.setFaults({});
    await h?.close();
  });

  it('both end rolled back, the conflicts kept, neither paused', async () => {
    const members = logins(10);
    const a = await aWave('third-a').logins(members).protocols('imap').rate(1000).batchSize(10).started(h);
    await h.untilWaveState(a.id, 'completed');
    const b = await aWave('third-b').logins(members).protocols('imap', 'pop3').rate(1000).batchSize(10).started(h);
    await h.untilWaveState(b.id, 'completed');
    const support = h.support();
    for (const login of members) {
      const op = await support.request(
        login,
        'disable',
        { reason: 'practice asked', ticket: 'INC-11', protocols: ['pop3'] },
        'support:test',
      );
      await pollUntil(async () => (await support.get(op.id)).state === 'succeeded', { description: 'support disable' });
    }
    // Every batch call takes 1.5 s, so the two rollbacks' batches are at the mailstore at the same moment (400 ms left
    // too little room for one rollback's pump starting late on a busy machine).
    h.sim.setFaults({ latencyMs: 1_500, endpoints: ['batch'] });
    await Promise.all([h.commands.rollback(a.id, 'ops:test'), h.commands.rollback(b.id, 'ops:test')]);
    for (const w of [a, b]) {
      await pollUntil(
        async () => {
          const s = await h.waveStatus(w.id);
          if (s.state === 'paused') throw new Error(`wave ${w.id} paused: ${JSON.stringify(s)}`);
          return s.state === 'rolled_back';
        },
        { timeoutMs: 30_000, description: `wave ${w.id} rolled back` },
      );
    }
    // The premise: a member was sent back to wait for the other rollback (undecided), then judged again.
    const [waited] = await h.db.dataSource.query<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM audit_log
        WHERE wave_id = ANY($1) AND action = 'member.rollback.reasked' AND reason = 'undecided_other_writer'`,
      [[a.id, b.id]],
    );
    expect(waited.n).toBeGreaterThan(0);
    const states = await h.db.dataSource.query<{ wave_id: string; rollback_state: string; n: string }[]>(
      `SELECT wave_id, rollback_state, count(*) AS n FROM wave_members WHERE wave_id = ANY($1) GROUP BY 1, 2 ORDER BY 1, 2`,
      [[a.id, b.id]],
    );
    expect(states.map((r) => [r.wave_id, r.rollback_state, Number(r.n)])).toEqual(
      [
        [a.id, 'conflict', 10],
        [b.id, 'conflict', 10],
      ].sort((x, y) => String(x[0]).localeCompare(String(y[0]))),
    );
    // Support's change kept, and so the IMAP A opened (support wrote after it: the conservative side).
    expect(members.filter((m) => h.sim.account(m)!.protocols.pop3)).toEqual([]);
    for (const w of [a, b]) expect(await h.counters(w.id)).toEqual(await countersFromTruth(h.db, w.id));
  }, 90_000);
});
