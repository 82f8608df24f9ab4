import { aWave, countersFromTruth, createEngineHarness, EngineHarness, loginAllocator, pollUntil } from '@app/testing';

/** The other wave's backoff before its resend (the test holds the resend back with a pause anyway). */
const RESEND_AFTER_MS = 4_000;

/**
 * A rollback meets a write of another wave of ours that has not been recorded yet: A opened IMAP, B then opened POP3
 * on the same accounts, and B's answer was lost after the mailstore applied it, so B resends only after its backoff.
 * A's rollback, refused by the version B's write made, cannot tell B's write from somebody else's until B records it:
 * its members go back to wait (`undecided_other_writer`). Before, the re-judgements followed each other within a
 * second and the conflict stood after the fifth: A's rollback ended with IMAP open on every account. Now the waits
 * are spaced (libs/domain requeueDelayMs, the rollback's pumps waiting for them) and A closes IMAP once B has
 * recorded.
 */
describe('a rollback waiting for another wave to record its write (real PostgreSQL, Redis, simulator, worker)', () => {
  let h: EngineHarness;
  const logins = loginAllocator();

  beforeAll(async () => {
    h = await createEngineHarness(
      'ovrslow',
      { accounts: 20 },
      { BATCH_RETRY_BASE_MS: String(RESEND_AFTER_MS), BATCH_RETRY_MAX_MS: String(RESEND_AFTER_MS) },
    );
    await h.importPopulation({ count: 20, seed: 46, leakedShare: 0 });
    await h.startWorker();
  });
  afterAll(async () => {
    h.sim.setFaults({});
    await h?.close();
  });

  const q = <T>(text: string, params: unknown[]) => h.db.dataSource.query<T[]>(text, params);

  it('waits for the other wave, then closes what it opened', async () => {
    const members = logins(10);
    const a = await aWave('slow-a').logins(members).protocols('imap').rate(1000).batchSize(10).started(h);
    await h.untilWaveState(a.id, 'completed');
    // B's only batch is applied at the mailstore and its answer lost: in doubt until its resend. B is paused while
    // that call is still at the mailstore (1 s there), so its resend waits for the resume below: with full jitter a
    // resend could otherwise come within a few hundred ms, before A's rollback meets B's unrecorded write.
    h.sim.setFaults({ script: ['drop_after_apply'], endpoints: ['batch'], latencyMs: 1_000 });
    const b = await aWave('slow-b').logins(members).protocols('imap', 'pop3').rate(1000).batchSize(10).started(h);
    await pollUntil(() => h.batchCalls(b.id).length > 0, { description: "B's call at the mailstore" });
    await h.commands.pause(b.id, 'ops:test');
    await pollUntil(() => members.every((m) => h.sim.account(m)!.protocols.pop3), { description: 'B applied' });
    const [inDoubt] = await q<{ n: number }>(
      `SELECT count(*)::int AS n FROM wave_members m JOIN wave_batches b ON b.id = m.batch_id
        WHERE m.wave_id = $1 AND m.state = 'in_flight' AND b.attempts > 0`,
      [b.id],
    );
    expect(inDoubt.n).toBe(10);

    await h.commands.rollback(a.id, 'ops:test');
    // Every member of A meets B's write unrecorded and goes back to wait; then B resumes and resends.
    await pollUntil(
      async () => {
        const [w] = await q<{ members: number }>(
          `SELECT count(DISTINCT account_id)::int AS members FROM audit_log
            WHERE wave_id = $1 AND action = 'member.rollback.reasked' AND reason = 'undecided_other_writer'`,
          [a.id],
        );
        return w.members === 10;
      },
      { description: "A's members waiting for B", timeoutMs: 30_000 },
    );
    await h.commands.resume(b.id, 'ops:test');
    await h.untilWaveState(a.id, 'rolled_back', { timeoutMs: 60_000 });
    await h.untilWaveState(b.id, 'completed');

    // The premise: every member of A was sent back to wait for B (undecided) at least once, and A restored each only
    // after B had recorded its write (B's ledger row before A's).
    const [waits] = await q<{ members: number }>(
      `SELECT count(DISTINCT account_id)::int AS members FROM audit_log
        WHERE wave_id = $1 AND action = 'member.rollback.reasked' AND reason = 'undecided_other_writer'`,
      [a.id],
    );
    expect(waits.members).toBe(10);
    const [order] = await q<{ b_recorded: string; a_first_restored: string }>(
      `SELECT (SELECT max(id) FROM audit_log WHERE wave_id = $2 AND action = 'member.enabled') AS b_recorded,
              (SELECT min(id) FROM audit_log WHERE wave_id = $1 AND action = 'member.rollback.rolled_back')
                AS a_first_restored`,
      [a.id, b.id],
    );
    expect(Number(order.a_first_restored)).toBeGreaterThan(Number(order.b_recorded));
    // Every account: IMAP (A's) closed again, POP3 (B's) left open; A's record says restored, not conflict.
    expect(members.filter((m) => h.sim.account(m)!.protocols.imap)).toEqual([]);
    expect(members.filter((m) => !h.sim.account(m)!.protocols.pop3)).toEqual([]);
    const states = await q<{ k: string; n: number }>(
      `SELECT rollback_state AS k, count(*)::int AS n FROM wave_members WHERE wave_id = $1 GROUP BY 1`,
      [a.id],
    );
    expect(states).toEqual([{ k: 'rolled_back', n: 10 }]);
    const [waiting] = await q<{ n: number }>(
      `SELECT count(*)::int AS n FROM wave_members WHERE wave_id = $1 AND rollback_not_before IS NOT NULL`,
      [a.id],
    );
    expect(waiting.n).toBe(0);
    for (const w of [a, b]) expect(await h.counters(w.id)).toEqual(await countersFromTruth(h.db, w.id));
  }, 90_000);
});
