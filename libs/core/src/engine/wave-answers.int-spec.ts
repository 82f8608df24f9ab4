import { aWave, createEngineHarness, EngineHarness } from '@app/testing';

/**
 * What the mailstore's answers leave behind (issue 18): the service's view of each account is what the last answer
 * that carried a state said, and the request ids name each attempt under its key.
 */
describe("the mailstore's answers, as the service records them (real services, simulator)", () => {
  let h: EngineHarness;
  beforeAll(async () => {
    h = await createEngineHarness('answers', { accounts: 60 });
    await h.importPopulation({ count: 60, seed: 21, leakedShare: 0 });
    await h.startWorker();
  });
  afterEach(() => h.sim.setFaults({}));
  afterAll(async () => {
    await h?.close();
  });

  /** The service's view of an account. */
  const view = async (login: string) => {
    const [row] = await h.db.dataSource.query<
      { imap_enabled: boolean; pop3_enabled: boolean; mailstore_version: number | null }[]
    >(`SELECT imap_enabled, pop3_enabled, mailstore_version FROM accounts WHERE login = $1`, [login]);
    return row;
  };

  it("a rollback item answered `conflict` records the account's current state from the answer", async () => {
    const login = 'user31@example.test';
    const wave = await aWave('conflict view').logins([login]).protocols('imap').rate(100).started(h);
    await h.untilWaveState(wave.id, 'completed', { timeoutMs: 20_000 });
    // Somebody turns POP3 on at the mail server itself (not through this service), after the wave.
    const res = await fetch(`${h.sim.baseUrl}/accounts/${encodeURIComponent(login)}/access`, {
      method: 'PATCH',
      headers: {
        authorization: 'Bearer sim-token',
        'content-type': 'application/json',
        'idempotency-key': 'helpdesk-1',
      },
      body: JSON.stringify({ protocols: { pop3: true } }),
    });
    expect(res.status).toBe(200);
    await h.commands.rollback(wave.id, 'ops:test');
    await h.untilWaveState(wave.id, 'rolled_back', { timeoutMs: 20_000 });
    expect(await h.counters(wave.id)).toMatchObject({ 'rollback:conflict': 1 });
    const truth = h.sim.account(login)!;
    expect(truth.protocols).toEqual({ imap: true, pop3: true });
    expect(await view(login)).toEqual({ imap_enabled: true, pop3_enabled: true, mailstore_version: truth.version });
  }, 60_000);

  it('request ids count the attempts under each key: #1 first, #2 for its retry, forward and rollback', async () => {
    const logins = ['user41@example.test', 'user42@example.test', 'user43@example.test'];
    // The first forward call is refused (429: decided again, the same body under the same key), the next one fails
    // (500: resent as is): three attempts under one key.
    h.sim.setFaults({ script: ['429', '500'], retryAfterSeconds: 1, endpoints: ['batch'] });
    const wave = await aWave('request ids').logins(logins).protocols('imap').rate(100).started(h);
    await h.untilWaveState(wave.id, 'completed', { timeoutMs: 30_000 });
    h.sim.setFaults({ script: ['429'], retryAfterSeconds: 1, endpoints: ['batch'] });
    await h.commands.rollback(wave.id, 'ops:test');
    await h.untilWaveState(wave.id, 'rolled_back', { timeoutMs: 30_000 });

    const calls = h.batchCalls(wave.id);
    const byKey = new Map<string, string[]>();
    for (const c of calls) byKey.set(c.idempotencyKey!, [...(byKey.get(c.idempotencyKey!) ?? []), c.requestId!]);
    const forward = [...byKey.keys()].filter((k) => k.includes('/forward/'));
    const rollback = [...byKey.keys()].filter((k) => k.includes('/rollback/'));
    expect(forward).toHaveLength(1); // decided again with the same members: the same body keeps its key
    expect(rollback).toHaveLength(1); // a rollback batch is never decided again: its retry keeps the key
    expect(calls.map((c) => c.status)).toEqual([429, 500, 200, 429, 200]);
    for (const [key, ids] of byKey) expect(ids).toEqual(ids.map((_, i) => `${key}#${i + 1}`));
    expect(byKey.get(forward[0])).toHaveLength(3);
  }, 60_000);
});
