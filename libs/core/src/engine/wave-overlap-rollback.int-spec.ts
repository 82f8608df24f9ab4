import { aWave, countersFromTruth, createEngineHarness, EngineHarness, loginAllocator, pollUntil } from '@app/testing';

/**
 * Rolling back two overlapping waves: A opened IMAP, then B opened POP3 on the same accounts (B's write named POP3
 * only: IMAP was on already). Each rollback names only what its wave opened, with `ifVersion` on the version its own
 * write made; the other wave's write moved that version, so the first rollback to meet it was refused (conflict) and,
 * whichever order the operator chose, IMAP stayed open after both rollbacks. Now a conflict that only our own later
 * writes on other protocols caused is asked again at the version answered (libs/domain rollback-reask.ts); a change
 * by support (which records no version it found) still wins. Checked at the simulator, the record agreeing.
 */
describe('rolling back two overlapping waves (real PostgreSQL, Redis, simulator, worker)', () => {
  let h: EngineHarness;
  const logins = loginAllocator();

  beforeAll(async () => {
    h = await createEngineHarness('ovrollback', { accounts: 200 });
    await h.importPopulation({ count: 200, seed: 43, leakedShare: 0 });
    await h.startWorker();
  });
  afterAll(async () => {
    await h?.close();
  });

  const q = <T>(text: string, params: unknown[]) => h.db.dataSource.query<T[]>(text, params);
  /** A wave's members by state/rollback state, e.g. { 'enabled/rolled_back': 10 }. */
  const outcomes = async (waveId: string) => {
    const rows = await q<{ k: string; n: string }>(
      `SELECT state || COALESCE('/' || rollback_state, '') AS k, count(*) AS n FROM wave_members WHERE wave_id = $1 GROUP BY 1`,
      [waveId],
    );
    return Object.fromEntries(rows.map((r) => [r.k, Number(r.n)]));
  };
  const open = (members: readonly string[]) =>
    members.filter((m) => h.sim.account(m)!.protocols.imap || h.sim.account(m)!.protocols.pop3);
  const reasked = async (waveId: string) =>
    Number(
      (
        await q<{ n: string }>(
          `SELECT count(*) AS n FROM audit_log WHERE wave_id = $1 AND action = 'member.rollback.reasked'`,
          [waveId],
        )
      )[0].n,
    );
  /** The service's view of each member's account equals the simulator's. */
  const recordAgrees = async (members: readonly string[]) => {
    const rows = await q<{ login: string; imap_enabled: boolean; pop3_enabled: boolean }>(
      `SELECT login, imap_enabled, pop3_enabled FROM accounts WHERE login = ANY($1) ORDER BY login`,
      [members],
    );
    return rows.filter((r) => {
      const sim = h.sim.account(r.login)!.protocols;
      return sim.imap !== r.imap_enabled || sim.pop3 !== r.pop3_enabled;
    });
  };

  /** A (IMAP) then B (IMAP + POP3: its writes name POP3 only) over the same accounts, both completed. */
  async function twoWaves(tag: string, members: string[]) {
    const a = await aWave(`${tag}-a`).logins(members).protocols('imap').rate(1000).batchSize(5).started(h);
    await h.untilWaveState(a.id, 'completed');
    const b = await aWave(`${tag}-b`).logins(members).protocols('imap', 'pop3').rate(1000).batchSize(5).started(h);
    await h.untilWaveState(b.id, 'completed');
    expect(await outcomes(a.id)).toEqual({ enabled: members.length });
    expect(await outcomes(b.id)).toEqual({ enabled: members.length });
    expect(members.filter((m) => !(h.sim.account(m)!.protocols.imap && h.sim.account(m)!.protocols.pop3))).toEqual([]);
    return { a, b };
  }

  it.each([
    ['the first wave first', 'first'],
    ['the second wave first', 'second'],
  ])('rolled back one after the other (%s): every account closed', async (_name, order) => {
    const members = logins(10);
    const { a, b } = await twoWaves(`seq-${order}`, members);
    const [x, y] = order === 'first' ? [a, b] : [b, a];
    await h.commands.rollback(x.id, 'ops:test');
    await h.untilWaveState(x.id, 'rolled_back');
    await h.commands.rollback(y.id, 'ops:test');
    await h.untilWaveState(y.id, 'rolled_back');
    expect(open(members)).toEqual([]);
    expect(await outcomes(a.id)).toEqual({ 'enabled/rolled_back': 10 });
    expect(await outcomes(b.id)).toEqual({ 'enabled/rolled_back': 10 });
    // A's rollback met B's version either way (B's forward write, or B's forward write and its restoration) and was
    // asked again; B's met A's restoration only when A went first.
    expect(await reasked(a.id)).toBe(10);
    expect(await reasked(b.id)).toBe(order === 'first' ? 10 : 0);
    expect(await recordAgrees(members)).toEqual([]);
    for (const w of [a, b]) expect(await h.counters(w.id)).toEqual(await countersFromTruth(h.db, w.id));
  });

  it('rolled back at once (both rollbacks running together): every account closed', async () => {
    const members = logins(30);
    const { a, b } = await twoWaves('both', members);
    await Promise.all([h.commands.rollback(a.id, 'ops:test'), h.commands.rollback(b.id, 'ops:test')]);
    await h.untilWaveState(a.id, 'rolled_back', { timeoutMs: 30_000 });
    await h.untilWaveState(b.id, 'rolled_back', { timeoutMs: 30_000 });
    expect(open(members)).toEqual([]);
    expect(await outcomes(a.id)).toEqual({ 'enabled/rolled_back': 30 });
    expect(await outcomes(b.id)).toEqual({ 'enabled/rolled_back': 30 });
    expect(await recordAgrees(members)).toEqual([]);
    for (const w of [a, b]) expect(await h.counters(w.id)).toEqual(await countersFromTruth(h.db, w.id));
  });

  it("support's rollback of the first wave's change on one account closes it too (asked again, audited)", async () => {
    const members = logins(5);
    const [one] = members;
    const { a } = await twoWaves('support-rb', members);
    const support = h.support();
    const op = await support.requestRollback(
      one,
      { waveId: a.id, reason: 'opened by mistake', ticket: 'INC-8' },
      'support:test',
    );
    await pollUntil(async () => ['succeeded', 'failed'].includes((await support.get(op.id)).state), {
      description: 'support rollback done',
    });
    expect(await support.get(op.id)).toMatchObject({ state: 'succeeded', outcome: 'applied' });
    expect(h.sim.account(one)!.protocols).toEqual({ imap: false, pop3: true });
    const [m] = await q<{ rollback_state: string }>(
      `SELECT m.rollback_state FROM wave_members m JOIN accounts x ON x.id = m.account_id WHERE m.wave_id = $1 AND x.login = $2`,
      [a.id, one],
    );
    expect(m.rollback_state).toBe('rolled_back');
    const actions = await q<{ action: string }>(`SELECT action FROM audit_log WHERE operation_id = $1 ORDER BY id`, [
      op.id,
    ]);
    expect(actions.map((x) => x.action)).toEqual([
      'support.rollback_requested',
      'support.rollback_reasked',
      'support.rolled_back',
    ]);
    // Both calls logged: the one its If-Match refused, the one asked again.
    const calls = await q<{ http_status: number }>(
      `SELECT http_status FROM mailstore_calls WHERE operation_id = $1 ORDER BY started_at`,
      [op.id],
    );
    expect(calls.map((c) => c.http_status)).toEqual([412, 200]);
    expect(await h.counters(a.id)).toEqual(await countersFromTruth(h.db, a.id));
  });

  it("support's change after the first wave is kept: its rollback stays a conflict there", async () => {
    const members = logins(5);
    const [kept] = members;
    const a = await aWave('support-a').logins(members).protocols('imap').rate(1000).batchSize(5).started(h);
    await h.untilWaveState(a.id, 'completed');
    // Support opens POP3 for one account (an unconditional write: the version it found is not recorded).
    const support = h.support();
    const op = await support.request(
      kept,
      'enable',
      { reason: 'practice software', ticket: 'INC-7', protocols: ['pop3'] },
      'support:test',
    );
    await pollUntil(async () => (await support.get(op.id)).state === 'succeeded', { description: 'support enable' });
    await h.commands.rollback(a.id, 'ops:test');
    await h.untilWaveState(a.id, 'rolled_back');
    expect(await outcomes(a.id)).toEqual({ 'enabled/rolled_back': 4, 'enabled/conflict': 1 });
    expect(h.sim.account(kept)!.protocols).toEqual({ imap: true, pop3: true });
    expect(open(members)).toEqual([kept]);
    expect(await reasked(a.id)).toBe(0);
  });
});
