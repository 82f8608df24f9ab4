import {
  aWave,
  cleanRecord,
  createEngineHarness,
  EngineHarness,
  loginAllocator,
  pollUntil,
  recordVsMailstore,
} from '@app/testing';

/**
 * A batch resent in doubt to a mailstore that no longer has its first answer (a native driver keeps nothing per key;
 * an HTTP mailstore whose key expired): the resend finds the accounts already as asked, by our own earlier attempt.
 * Those members are the wave's (enabled, with the prior state the permit read), so a rollback closes them; recorded
 * `already_enabled` with the new state as prior, a rollback would leave them open. The simulator here forgets a key
 * after 1 s and the engine retries after 1.5 s, so each lost answer's resend is answered afresh, not replayed.
 */
describe('a batch resent in doubt and answered afresh (real PostgreSQL, Redis, simulator, worker)', () => {
  let h: EngineHarness;
  const logins = loginAllocator();

  beforeAll(async () => {
    h = await createEngineHarness(
      'resent',
      { accounts: 2000, idempotencyTtlSeconds: 1 },
      { MAILSTORE_TIMEOUT_MS: '800', BATCH_RETRY_BASE_MS: '1500', BATCH_RETRY_MAX_MS: '1500' },
    );
    await h.importPopulation({ count: 2000, seed: 37, leakedShare: 0 });
    await h.startWorker();
  });
  afterAll(async () => {
    h.sim.setFaults({});
    await h?.close();
  });

  it('counts what its earlier attempt opened as the wave’s, and the rollback closes it', async () => {
    h.sim.setFaults({ rateDropAfterApply: 0.3, endpoints: ['batch'], seed: 5 });
    const members = logins(300);
    const wave = await aWave('resent').logins(members).protocols('imap', 'pop3').rate(5000).batchSize(25).started(h);
    await pollUntil(
      async () => {
        const s = await h.waveStatus(wave.id);
        if (s.state === 'paused' && s.status_reason === 'mailstore_unreachable')
          await h.commands.resume(wave.id, 'ops:test');
        return s.state === 'completed';
      },
      { timeoutMs: 60_000, description: 'wave completed (resumed after any pause)' },
    );
    // The premise: answers were lost after applying, and their resends were answered afresh (not replayed).
    const calls = h.batchCalls(wave.id);
    const lost = calls.filter((c) => c.outcome === 'dropped_after_apply');
    expect(lost.length).toBeGreaterThan(0);
    const afresh = lost.filter((d) =>
      calls.some((c) => c.idempotencyKey === d.idempotencyKey && c.seq > d.seq && c.outcome !== 'replayed'),
    );
    expect(afresh.length).toBeGreaterThan(0);

    expect(await recordVsMailstore(h, wave.id, members)).toEqual(cleanRecord(wave.id));
    const [c] = await h.db.dataSource.query<{ enabled: string; already: string }[]>(
      `SELECT count(*) FILTER (WHERE state = 'enabled') AS enabled,
              count(*) FILTER (WHERE reason = 'already_enabled') AS already
         FROM wave_members WHERE wave_id = $1`,
      [wave.id],
    );
    expect({ enabled: Number(c.enabled), already: Number(c.already) }).toEqual({ enabled: 300, already: 0 });

    // The rollback under the same faults: its items carry ifVersion, which our own lost write has moved.
    const before = h.batchCalls(wave.id).length;
    await h.commands.rollback(wave.id, 'ops:test');
    await pollUntil(
      async () => {
        const s = await h.waveStatus(wave.id);
        if (s.state === 'paused' && s.status_reason === 'mailstore_unreachable')
          await h.commands.resume(wave.id, 'ops:test');
        return s.state === 'rolled_back';
      },
      { timeoutMs: 60_000, description: 'wave rolled back (resumed after any pause)' },
    );
    h.sim.setFaults({});
    const rollbackCalls = h.batchCalls(wave.id).slice(before);
    expect(
      rollbackCalls.some(
        (d) =>
          d.outcome === 'dropped_after_apply' &&
          rollbackCalls.some((c) => c.idempotencyKey === d.idempotencyKey && c.seq > d.seq && c.outcome !== 'replayed'),
      ),
    ).toBe(true);
    const [r] = await h.db.dataSource.query<{ n: string }[]>(
      `SELECT count(*) AS n FROM wave_members WHERE wave_id = $1 AND rollback_state = 'rolled_back'`,
      [wave.id],
    );
    expect(Number(r.n)).toBe(300);
    expect(await recordVsMailstore(h, wave.id, members, { rolledBack: true })).toEqual(cleanRecord(wave.id));
    expect(members.filter((m) => h.sim.account(m)!.protocols.imap || h.sim.account(m)!.protocols.pop3)).toEqual([]);
  });
});
