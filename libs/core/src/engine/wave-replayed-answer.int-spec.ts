import { aWave, createEngineHarness, EngineHarness, loginAllocator, pollUntil, untilOperationDone } from '@app/testing';

/**
 * A batch whose answer was lost after the mailstore applied it, resent under its key after support closed the account
 * meanwhile: the mailstore replays the first attempt's answer (open, at the version the wave's write made). That
 * answer is older than support's close although the resend was permitted after it: the service's view of the account
 * must stay as support's answer left it (closed, at its later version), not go back to open.
 */
describe('a replayed answer after a later change (real PostgreSQL, Redis, simulator, worker)', () => {
  let h: EngineHarness;
  const logins = loginAllocator();

  beforeAll(async () => {
    h = await createEngineHarness(
      'replayed',
      { accounts: 20 },
      { MAILSTORE_TIMEOUT_MS: '800', BATCH_RETRY_BASE_MS: '2500', BATCH_RETRY_MAX_MS: '2500' },
    );
    await h.importPopulation({ count: 20, seed: 43, leakedShare: 0 });
    await h.startWorker();
  });
  afterAll(async () => {
    h.sim.setFaults({});
    await h?.close();
  });

  it("keeps support's later close as the account's state", async () => {
    const [login] = logins(1);
    h.sim.setFaults({ script: ['drop_after_apply'], endpoints: ['batch'] });
    const wave = await aWave('replayed').logins([login]).protocols('imap').rate(1000).batchSize(1).started(h);
    // The first attempt opened it; its answer was lost, and the resend waits for its backoff.
    await pollUntil(async () => h.sim.account(login)!.protocols.imap === true, {
      description: 'first attempt applied',
    });
    const support = h.support();
    const op = await support.request(
      login,
      'disable',
      { protocols: ['imap'], reason: 'closed again', ticket: 'INC-31' },
      'support:test',
    );
    await untilOperationDone(support, op.id, { timeoutMs: 20_000 });
    expect(await support.get(op.id)).toMatchObject({ state: 'succeeded', outcome: 'applied' });
    await h.untilWaveState(wave.id, 'completed', { timeoutMs: 20_000 });

    // The premise: the resend was answered by a replay of the first attempt's answer.
    const calls = h.batchCalls(wave.id).map((c) => c.outcome);
    expect(calls).toEqual(['dropped_after_apply', 'replayed']);
    const sim = h.sim.account(login)!;
    expect(sim.protocols.imap).toBe(false);
    const [account] = await h.db.dataSource.query<{ imap_enabled: boolean; mailstore_version: number }[]>(
      `SELECT imap_enabled, mailstore_version FROM accounts WHERE login = $1`,
      [login],
    );
    expect(account).toEqual({ imap_enabled: false, mailstore_version: sim.version });
    // The wave did open it: its member is enabled, as its first attempt's answer says.
    const [member] = await h.db.dataSource.query<{ state: string }[]>(
      `SELECT m.state FROM wave_members m JOIN accounts a ON a.id = m.account_id WHERE m.wave_id = $1`,
      [wave.id],
    );
    expect(member.state).toBe('enabled');
  });
});
