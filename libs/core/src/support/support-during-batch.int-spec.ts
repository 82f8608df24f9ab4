import {
  aWave,
  cleanRecord,
  countersFromTruth,
  createEngineHarness,
  EngineHarness,
  loginAllocator,
  pollUntil,
  recordVsMailstore,
  untilOperationDone,
} from '@app/testing';
import { OperationService } from './operation.service';

/**
 * Support changes an account while the wave's batch holding it is on its way (the simulator is slow on batches, not on
 * PATCHes, so support's write lands first), then the wave is rolled back. wave-faults has support's change after
 * the wave completed, wave-hold a hold before the permit; none changes an account under a call in flight. Each
 * account ends as the mailstore's writes left it, and the record says whose write that was.
 */
describe('support changes under a batch in flight, then a rollback (real PostgreSQL, Redis, simulator, worker)', () => {
  let h: EngineHarness;
  let support: OperationService;
  const logins = loginAllocator();

  beforeAll(async () => {
    h = await createEngineHarness('supportflight', { accounts: 50 });
    await h.importPopulation({ count: 50, seed: 59, leakedShare: 0 });
    await h.startWorker();
    support = h.support();
  });
  afterAll(async () => {
    h.sim.setFaults({});
    await h?.close();
  });

  const q = <T>(text: string, params: unknown[]) => h.db.dataSource.query<T[]>(text, params);

  it('an enable, a disable and a hold during the call; the rollback undoes only what the wave opened', async () => {
    const members = logins(10);
    const [enabled, disabled, held] = members;
    h.sim.setFaults({ latencyMs: 4000, endpoints: ['batch'] });
    const wave = await aWave('supportflight')
      .logins(members)
      .protocols('imap', 'pop3')
      .rate(1000)
      .batchSize(10)
      .started(h);
    const inFlight = async () =>
      (
        await q<{ n: string }>(
          `SELECT count(*) AS n FROM wave_batches WHERE wave_id = $1 AND state = 'claimed' AND attempts = 1`,
          [wave.id],
        )
      )[0].n === '1';
    await pollUntil(inFlight, { timeoutMs: 10_000, description: 'the batch call started' });
    const why = { reason: 'customer asked', ticket: 'INC-11' };
    const ops = [
      await support.request(enabled, 'enable', why, 'support:test'),
      await support.request(disabled, 'disable', why, 'support:test'),
    ];
    await support.setHold(held, true, why, 'support:test');
    for (const op of ops) expect(await untilOperationDone(support, op.id)).toMatchObject({ state: 'succeeded' });
    // The premise: support's writes came while the batch was still on its way.
    expect(await inFlight()).toBe(true);
    await h.untilWaveState(wave.id, 'completed');
    h.sim.setFaults({});

    const member = async (login: string) =>
      (
        await q<{ state: string; reason: string | null }>(
          `SELECT m.state, m.reason FROM wave_members m JOIN accounts a ON a.id = m.account_id
            WHERE m.wave_id = $1 AND a.login = $2`,
          [wave.id, login],
        )
      )[0];
    // Support opened `enabled` first: not the wave's. The others the wave opened (a hold after the permit cannot stop it).
    expect(await member(enabled)).toEqual({ state: 'skipped', reason: 'already_enabled' });
    expect(await member(disabled)).toEqual({ state: 'enabled', reason: null });
    expect(await member(held)).toEqual({ state: 'enabled', reason: null });
    const touched = new Set([enabled, disabled, held]);
    expect(await recordVsMailstore(h, wave.id, members, { supportTouched: touched })).toEqual(cleanRecord(wave.id));

    await h.commands.rollback(wave.id, 'ops:test');
    await h.untilWaveState(wave.id, 'rolled_back');
    expect(await recordVsMailstore(h, wave.id, members, { rolledBack: true, supportTouched: touched })).toEqual(
      cleanRecord(wave.id),
    );
    // Support's enable stays; what the wave opened is closed again, the held account included.
    const sim = (login: string) => h.sim.account(login)!.protocols;
    expect([sim(enabled), sim(disabled), sim(held)]).toEqual([
      { imap: true, pop3: true },
      { imap: false, pop3: false },
      { imap: false, pop3: false },
    ]);
    // The service's view of every member is the mailstore's.
    const view = await q<{ login: string; imap: boolean; pop3: boolean }>(
      `SELECT login, imap_enabled AS imap, pop3_enabled AS pop3 FROM accounts WHERE login = ANY($1::text[])`,
      [members],
    );
    expect(view.filter((v) => v.imap !== sim(v.login).imap || v.pop3 !== sim(v.login).pop3)).toEqual([]);
    expect(await h.counters(wave.id)).toEqual(await countersFromTruth(h.db, wave.id));
  }, 60_000);
});
