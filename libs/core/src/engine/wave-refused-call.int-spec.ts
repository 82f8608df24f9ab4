import {
  aWave,
  cleanRecord,
  EngineHarness,
  engineBehindGateway,
  HttpGateway,
  loginAllocator,
  pollUntil,
  recordVsMailstore,
} from '@app/testing';

/**
 * Batch calls refused as a whole: a gateway in front of the mailstore answering 404 for the batch route (a new path,
 * a rule change), which judged none of the accounts and applied nothing (contract §3). A forward wave pauses with the
 * batch kept, no member failed, and finishes once the route is back; only a refusal of a batch of one that names its
 * account (404 account_not_found) is that account's answer. A rollback fails no member either (failing them would
 * leave their accounts open under a rollback reporting rolled_back): its batch is kept with its key and sent again
 * until the mailstore takes it.
 */
describe('batch calls refused by a gateway (real PostgreSQL, Redis, simulator behind a gateway, worker)', () => {
  let h: EngineHarness;
  let gateway: HttpGateway;
  let refusing = false;
  /** Logins whose batch of one the gateway answers as not found. */
  const unknown = new Set<string>();
  const logins = loginAllocator();

  beforeAll(async () => {
    ({ h, gateway } = await engineBehindGateway('refusedcall', { accounts: 40, seed: 71 }));
    gateway.intercept = (req, body) => {
      if (req.method !== 'POST' || !req.url?.endsWith('/access/batch')) return undefined;
      if (refusing) return { status: 404, problem: { code: 'not_found', detail: 'no route' } };
      const items = (JSON.parse(body.toString()) as { items: { account: string }[] }).items;
      return items.length === 1 && unknown.has(items[0].account)
        ? { status: 404, problem: { code: 'account_not_found' } }
        : undefined;
    };
  });
  afterAll(async () => {
    await h?.close();
    await gateway?.close();
  });

  const memberStates = async (waveId: string) =>
    Object.fromEntries(
      (
        await h.db.dataSource.query<{ state: string; n: string }[]>(
          `SELECT state, count(*) AS n FROM wave_members WHERE wave_id = $1 GROUP BY state`,
          [waveId],
        )
      ).map((r) => [r.state, Number(r.n)]),
    );

  it('pauses on a refused route with no member failed and nothing opened, and completes once ops resume', async () => {
    const members = logins(10);
    refusing = true;
    const before = gateway.batchCalls;
    const wave = await aWave('refusedcall').logins(members).protocols('imap').rate(1000).batchSize(5).started(h);
    await h.untilWaveState(wave.id, 'paused');
    expect(gateway.batchCalls).toBeGreaterThan(before);
    expect((await h.waveStatus(wave.id)).status_reason).toBe('mailstore_unreachable');
    const [detail] = await h.db.dataSource.query<{ status_detail: Record<string, unknown> }[]>(
      `SELECT status_detail FROM waves WHERE id = $1`,
      [wave.id],
    );
    expect(detail.status_detail).toMatchObject({ status: 404, code: 'not_found', inDoubt: false });
    expect(await memberStates(wave.id)).not.toHaveProperty('failed');
    expect((await h.counters(wave.id)).failed ?? 0).toBe(0);
    expect(members.filter((m) => h.sim.account(m)!.protocols.imap)).toEqual([]);
    // The refused batches (two may have been in flight) are kept with their keys, not failed and not handed back.
    const [kept] = await h.db.dataSource.query<{ n: string }[]>(
      `SELECT count(*) AS n FROM wave_batches WHERE wave_id = $1 AND state = 'claimed' AND attempts > 0`,
      [wave.id],
    );
    expect(Number(kept.n)).toBeGreaterThan(0);

    refusing = false;
    await h.commands.resume(wave.id, 'ops:test');
    await h.untilWaveState(wave.id, 'completed');
    expect(await memberStates(wave.id)).toEqual({ enabled: 10 });
    expect(members.every((m) => h.sim.account(m)!.protocols.imap)).toBe(true);
    expect(await recordVsMailstore(h, wave.id, members)).toEqual(cleanRecord(wave.id));
  });

  it("a batch of one refused as that account's not found fails that member only; the wave completes", async () => {
    const members = logins(3);
    unknown.add(members[1]);
    const wave = await aWave('refusedcall').logins(members).protocols('imap').rate(1000).batchSize(1).started(h);
    await h.untilWaveState(wave.id, 'completed');
    const rows = await h.db.dataSource.query<{ login: string; state: string; reason: string | null }[]>(
      `SELECT a.login, m.state, m.reason FROM wave_members m JOIN accounts a ON a.id = m.account_id
        WHERE m.wave_id = $1 ORDER BY a.login`,
      [wave.id],
    );
    expect(rows.map((r) => [r.login, r.state])).toEqual(
      [...members].sort().map((m) => [m, m === members[1] ? 'failed' : 'enabled']),
    );
    expect(rows.find((r) => r.login === members[1])!.reason).toBe('account_not_found');
    expect(members.map((m) => h.sim.account(m)!.protocols.imap)).toEqual([true, false, true]);
    expect(await recordVsMailstore(h, wave.id, members)).toEqual(cleanRecord(wave.id));
  });

  it('keeps rolling back, fails no member, and closes every account once the gateway relays again', async () => {
    const members = logins(10);
    const wave = await aWave('refusedcall').logins(members).protocols('imap').rate(1000).batchSize(5).started(h);
    await h.untilWaveState(wave.id, 'completed');
    expect(members.every((m) => h.sim.account(m)!.protocols.imap)).toBe(true);

    refusing = true;
    const before = gateway.batchCalls;
    await h.commands.rollback(wave.id, 'ops:test');
    // Refused at least twice: the first refusal did not end the rollback, its batch was sent again.
    await pollUntil(() => gateway.batchCalls >= before + 2, { description: 'the refused batch sent again' });
    const refused = await h.counters(wave.id);
    expect((await h.waveStatus(wave.id)).state).toBe('rolling_back');
    expect(refused['rollback:failed'] ?? 0).toBe(0);
    expect(members.every((m) => h.sim.account(m)!.protocols.imap)).toBe(true);

    refusing = false;
    await h.untilWaveState(wave.id, 'rolled_back', { timeoutMs: 60_000 });
    expect(members.filter((m) => h.sim.account(m)!.protocols.imap)).toEqual([]);
    expect((await h.counters(wave.id))['rollback:failed'] ?? 0).toBe(0);
    expect(await recordVsMailstore(h, wave.id, members, { rolledBack: true })).toEqual(cleanRecord(wave.id));
  });
});
