import {
  aWave,
  countersDiff,
  countersFromTruth,
  createEngineHarness,
  EngineHarness,
  loginAllocator,
  pollUntil,
} from '@app/testing';

/**
 * Two waves over the same accounts (a second one started while the first runs: membership is frozen from the
 * accounts as recorded, so both take them). No other spec runs two waves on one account. Each wave must record only
 * what its own calls did at the mailstore, so that rolling one back undoes only its own changes: checked against
 * the simulator's log of which call applied what (not recordVsMailstore, which assumes one wave per account).
 */
describe('two waves overlapping on the same accounts (real PostgreSQL, Redis, simulator, worker)', () => {
  let h: EngineHarness;
  const logins = loginAllocator();

  beforeAll(async () => {
    h = await createEngineHarness(
      'overlap',
      { accounts: 200 },
      // A hung call times out after 800 ms; the wave is paused before its resend.
      { MAILSTORE_TIMEOUT_MS: '800', BATCH_RETRY_BASE_MS: '3000', BATCH_RETRY_MAX_MS: '3000' },
    );
    await h.importPopulation({ count: 200, seed: 41, leakedShare: 0 });
    await h.startWorker();
  });
  afterAll(async () => {
    h.sim.setFaults({});
    await h?.close();
  });

  const q = <T>(text: string, params: unknown[]) => h.db.dataSource.query<T[]>(text, params);
  /** Each wave's members by state (and reason), e.g. { enabled: 5 } or { 'skipped:already_enabled': 5 }. */
  const outcomes = async (waveId: string) => {
    const rows = await q<{ k: string; n: string }>(
      `SELECT state || COALESCE(':' || reason, '') || COALESCE('/' || rollback_state, '') AS k, count(*) AS n
         FROM wave_members WHERE wave_id = $1 GROUP BY 1`,
      [waveId],
    );
    return Object.fromEntries(rows.map((r) => [r.k, Number(r.n)]));
  };

  it('a batch resent in doubt after the other wave opened its accounts is not counted as its own', async () => {
    // Wave B's first call hangs (nothing applied at the mailstore) and times out: in doubt. B is paused with it (the
    // batch parked, its key kept), wave A opens the same accounts, and B's resume resends the batch under its key.
    h.sim.setFaults({ script: ['hang'], hangMs: 60_000, endpoints: ['batch'] });
    const members = logins(5);
    const b = await aWave('overlap-b').logins(members).protocols('imap').rate(1000).batchSize(5).started(h);
    // Paused while its call still hangs (the service gives up after 800 ms): a resend after the give-up (full jitter,
    // possibly within a few ms) can no longer come before the pause and complete B.
    await pollUntil(async () => h.batchCalls(b.id).length > 0, {
      timeoutMs: 10_000,
      description: "wave B's call at the mailstore",
    });
    await h.commands.pause(b.id, 'ops:test');
    await pollUntil(
      async () =>
        (
          await q<{ n: string }>(
            `SELECT count(*) AS n FROM wave_batches WHERE wave_id = $1 AND state = 'claimed' AND in_doubt AND parked_at IS NOT NULL`,
            [b.id],
          )
        )[0].n === '1',
      { timeoutMs: 10_000, description: "wave B's batch parked in doubt" },
    );
    const a = await aWave('overlap-a').logins(members).protocols('imap').rate(1000).batchSize(5).started(h);
    await h.untilWaveState(a.id, 'completed');
    await h.commands.resume(b.id, 'ops:test');
    await h.untilWaveState(b.id, 'completed');
    expect(members.every((m) => h.sim.account(m)!.protocols.imap)).toBe(true);
    // The premise: B's resend was answered afresh (its hung call applied nothing), after A had applied.
    const bCalls = h.batchCalls(b.id);
    expect(bCalls.map((c) => c.outcome)).toEqual(['hang', 'ok']);
    expect(bCalls.flatMap((c) => c.applied)).toEqual([]);
    expect(
      h
        .batchCalls(a.id)
        .flatMap((c) => c.applied)
        .sort(),
    ).toEqual([...members].sort());

    // A opened them; B changed nothing at the mailstore.
    expect({ a: await outcomes(a.id), b: await outcomes(b.id) }).toEqual({
      a: { enabled: 5 },
      b: { 'skipped:already_enabled': 5 },
    });

    // Rolling back B undoes nothing of A's: the accounts stay open, as A's record says.
    await h.commands.rollback(b.id, 'ops:test');
    await h.untilWaveState(b.id, 'rolled_back');
    expect(members.filter((m) => !h.sim.account(m)!.protocols.imap)).toEqual([]);
    // A's rollback closes them.
    await h.commands.rollback(a.id, 'ops:test');
    await h.untilWaveState(a.id, 'rolled_back');
    expect(await outcomes(a.id)).toEqual({ 'enabled/rolled_back': 5 });
    expect(members.filter((m) => h.sim.account(m)!.protocols.imap)).toEqual([]);
  }, 60_000);

  it('nor when the other wave’s write is settled only after the resend was answered', async () => {
    // B's first call hangs (nothing applied); B is paused with it in doubt. A's first call opens the accounts and its
    // answer is lost; A is paused with it in doubt. B's resend finds them open while A has recorded nothing yet;
    // A's resend then gets its stored answer (applied). Only A opened them.
    const parkedInDoubt = (id: string) =>
      pollUntil(
        async () =>
          (
            await q<{ n: string }>(
              `SELECT count(*) AS n FROM wave_batches WHERE wave_id = $1 AND state = 'claimed' AND in_doubt AND parked_at IS NOT NULL`,
              [id],
            )
          )[0].n === '1',
        { timeoutMs: 10_000, description: 'the batch parked in doubt' },
      );
    const members = logins(5);
    h.sim.setFaults({ script: ['hang'], hangMs: 60_000, endpoints: ['batch'] });
    const b = await aWave('overlap-b3').logins(members).protocols('imap').rate(1000).batchSize(5).started(h);
    // Paused while its call still hangs (the service gives up after 800 ms): a resend after the give-up (full jitter,
    // possibly within a few ms) can no longer come before the pause and complete B.
    await pollUntil(async () => h.batchCalls(b.id).length > 0, {
      timeoutMs: 10_000,
      description: "wave B's call at the mailstore",
    });
    await h.commands.pause(b.id, 'ops:test');
    await parkedInDoubt(b.id);
    // The next call hangs: the retry backoff has full jitter, so A's resend may come before the pause below (it once
    // did, and A completed before it could be paused); hung, it applies nothing and A is still in doubt. When the
    // pause comes first, B's resend takes the hang instead, then is resent: the same story either way.
    h.sim.setFaults({ script: ['drop_after_apply', 'hang'], hangMs: 60_000, endpoints: ['batch'] });
    const a = await aWave('overlap-a3').logins(members).protocols('imap').rate(1000).batchSize(5).started(h);
    await pollUntil(async () => h.batchCalls(a.id).some((c) => c.outcome === 'dropped_after_apply'), {
      timeoutMs: 10_000,
      description: "wave A's answer lost",
    });
    await h.commands.pause(a.id, 'ops:test');
    await parkedInDoubt(a.id);
    await h.commands.resume(b.id, 'ops:test');
    // B's resend is answered (the accounts already open) while A's write is still unsettled.
    await pollUntil(async () => h.batchCalls(b.id).some((c) => c.status === 200), {
      timeoutMs: 10_000,
      description: "wave B's resend answered",
    });
    await h.commands.resume(a.id, 'ops:test');
    await h.untilWaveState(a.id, 'completed', { timeoutMs: 20_000 });
    // B settles once A's write is recorded (resumed by ops if it paused waiting for it).
    await pollUntil(
      async () => {
        const s = await h.waveStatus(b.id);
        if (s.state === 'paused') await h.commands.resume(b.id, 'ops:test');
        return s.state === 'completed';
      },
      { timeoutMs: 30_000, description: 'wave B completed' },
    );
    expect(h.batchCalls(b.id).flatMap((c) => c.applied)).toEqual([]);
    expect({ a: await outcomes(a.id), b: await outcomes(b.id) }).toEqual({
      a: { enabled: 5 },
      b: { 'skipped:already_enabled': 5 },
    });
  }, 60_000);

  it('one wave rolled back while the other runs: each records its own writes, the mailstore agrees', async () => {
    const members = logins(60);
    // A opens IMAP slowly; B (IMAP and POP3) starts over the same accounts once A has opened some, and is rolled back
    // while A still runs. A's permits then find some accounts closed again by B's rollback, and open them.
    const a = await aWave('overlap-a2').logins(members).protocols('imap').rate(5).batchSize(5).started(h);
    await h.untilCounters(a.id, (c) => (c.enabled ?? 0) >= 15);
    const b = await aWave('overlap-b2').logins(members).protocols('imap', 'pop3').rate(60).batchSize(5).started(h);
    await h.untilWaveState(b.id, 'completed');
    await h.commands.rollback(b.id, 'ops:test');
    // The premise: A still runs (at 5 accounts/s, 60 take it 12 s; B and its rollback command take 1–3 s).
    expect((await h.waveStatus(a.id)).state).toBe('running');
    await h.untilWaveState(b.id, 'rolled_back');
    await h.untilWaveState(a.id, 'completed');

    // Every write of the two waves at the mailstore is recorded as exactly one member's, and no member claims more.
    const applied = (id: string) => h.batchCalls(id).flatMap((c) => c.applied);
    const rows = await q<{ wave_id: string; login: string; state: string; rollback_state: string | null }>(
      `SELECT m.wave_id, a.login, m.state, m.rollback_state FROM wave_members m JOIN accounts a ON a.id = m.account_id
        WHERE m.wave_id = ANY($1::uuid[])`,
      [[a.id, b.id]],
    );
    const recorded = (id: string, pick: (r: (typeof rows)[number]) => boolean) =>
      rows
        .filter((r) => r.wave_id === id && pick(r))
        .map((r) => r.login)
        .sort();
    const forwardApplied = (id: string, batches: 'forward' | 'rollback') =>
      h
        .batchCalls(id)
        .filter((c) => c.idempotencyKey!.includes(batches === 'forward' ? '/forward/' : '/rollback/'))
        .flatMap((c) => c.applied)
        .sort();
    expect(applied(a.id).length + applied(b.id).length).toBeGreaterThan(60);
    for (const id of [a.id, b.id]) {
      expect(recorded(id, (r) => r.state === 'enabled')).toEqual(forwardApplied(id, 'forward'));
      expect(recorded(id, (r) => r.rollback_state === 'rolled_back')).toEqual(forwardApplied(id, 'rollback'));
      expect(countersDiff(await h.counters(id), await countersFromTruth(h.db, id))).toEqual({});
    }
    // The service's view of each account is the mailstore's, and what stands is A's IMAP only.
    const view = await q<{ login: string; imap_enabled: boolean; pop3_enabled: boolean }>(
      `SELECT login, imap_enabled, pop3_enabled FROM accounts WHERE login = ANY($1::text[])`,
      [members],
    );
    const disagree = view.filter((v) => {
      const sim = h.sim.account(v.login)!.protocols;
      return sim.imap !== v.imap_enabled || sim.pop3 !== v.pop3_enabled;
    });
    expect(disagree).toEqual([]);
    const open = members.filter((m) => h.sim.account(m)!.protocols.imap).sort();
    expect(open).toEqual(recorded(a.id, (r) => r.state === 'enabled'));
    expect(members.filter((m) => h.sim.account(m)!.protocols.pop3)).toEqual([]);
  }, 60_000);
});
