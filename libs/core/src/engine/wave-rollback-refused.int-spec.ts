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
 * A rollback whose batch calls are refused outright (a gateway in front of the mailstore answering 404 for the batch
 * route: a new path, a rule change). The contract says a refusal of the whole call applied nothing (§3): failing the
 * members, as a forward batch does, would leave their accounts open with the rollback reporting rolled_back. The
 * batch is kept with its key and sent again until the mailstore takes it.
 */
describe('a rollback refused by the mailstore (real PostgreSQL, Redis, simulator behind a gateway, worker)', () => {
  let h: EngineHarness;
  let gateway: HttpGateway;
  let refusing = false;
  const logins = loginAllocator();

  beforeAll(async () => {
    ({ h, gateway } = await engineBehindGateway('rollbackrefused', { accounts: 40, seed: 67 }));
    gateway.intercept = (req) =>
      refusing && req.method === 'POST' && req.url?.endsWith('/access/batch')
        ? { status: 404, problem: { code: 'not_found', detail: 'no route' } }
        : undefined;
  });
  afterAll(async () => {
    await h?.close();
    await gateway?.close();
  });

  it('keeps rolling back, fails no member, and closes every account once the gateway relays again', async () => {
    const members = logins(10);
    const wave = await aWave('rollbackrefused').logins(members).protocols('imap').rate(1000).batchSize(5).started(h);
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
