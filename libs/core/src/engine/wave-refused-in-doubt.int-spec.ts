import {
  aWave,
  cleanRecord,
  EngineHarness,
  engineBehindGateway,
  HttpGateway,
  loginAllocator,
  recordVsMailstore,
} from '@app/testing';

/**
 * A forward batch in doubt (its first call applied, the answer lost) whose resend the mailstore refuses outright with
 * a 4xx: here a gateway in front of the simulator that now takes fewer items per batch (413 batch_too_large, the
 * contract's answer before anything is applied or replayed). The refusal says nothing about the first attempt, which
 * opened the accounts: the members must not be recorded as failed while the mailstore has them open.
 */
describe('a batch in doubt refused on its resend (real PostgreSQL, Redis, simulator behind a gateway, worker)', () => {
  let h: EngineHarness;
  let gateway: HttpGateway;
  /** Which batch call the gateway refuses with 413 (the resend). */
  let refuseCall = 0;
  const logins = loginAllocator();

  beforeAll(async () => {
    ({ h, gateway } = await engineBehindGateway('refuseddoubt', {
      accounts: 50,
      seed: 61,
      env: { BATCH_RETRY_BASE_MS: '500', BATCH_RETRY_MAX_MS: '500' },
    }));
    gateway.intercept = (req) =>
      req.method === 'POST' && req.url?.endsWith('/access/batch') && gateway.batchCalls === refuseCall
        ? { status: 413, problem: { code: 'batch_too_large', maxItems: 2 } }
        : undefined;
  });
  afterAll(async () => {
    await h?.close();
    await gateway?.close();
  });

  it('keeps the record in agreement with the mailstore', async () => {
    const members = logins(5);
    h.sim.setFaults({ script: ['drop_after_apply'], endpoints: ['batch'] });
    refuseCall = gateway.batchCalls + 2; // the resend
    const wave = await aWave('refuseddoubt')
      .logins(members)
      .protocols('imap', 'pop3')
      .rate(1000)
      .batchSize(5)
      .started(h);
    await h.untilWaveState(wave.id, ['completed', 'paused'], { timeoutMs: 20_000 });
    expect((await h.waveStatus(wave.id)).state).toBe('completed');
    // The premise: the first call opened all five, the resend was refused by the gateway.
    expect(h.batchCalls(wave.id).map((c) => [c.outcome, c.applied.length])).toEqual([['dropped_after_apply', 5]]);
    expect(gateway.batchCalls).toBeGreaterThanOrEqual(refuseCall);
    expect(members.every((m) => h.sim.account(m)!.protocols.imap && h.sim.account(m)!.protocols.pop3)).toBe(true);
    expect(await recordVsMailstore(h, wave.id, members)).toEqual(cleanRecord(wave.id));
    // Read back, they are the wave's: it completes, and its rollback closes them.
    expect(await h.counters(wave.id)).toMatchObject({ enabled: 5 });
    await h.commands.rollback(wave.id, 'ops:test');
    await h.untilWaveState(wave.id, 'rolled_back');
    expect(await recordVsMailstore(h, wave.id, members, { rolledBack: true })).toEqual(cleanRecord(wave.id));
  });
});
