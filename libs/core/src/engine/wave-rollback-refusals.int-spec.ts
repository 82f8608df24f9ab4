import {
  aWave,
  cleanRecord,
  createEngineHarness,
  EngineHarness,
  loginAllocator,
  recordVsMailstore,
} from '@app/testing';

/**
 * A rollback whose batches the mailstore partly refuses, item by item: `conflict` (ifVersion no longer matches:
 * somebody changed the account since) and `not_found`. No other spec sends rollback items to these answers. The
 * refused members keep the state the mailstore has (open), their outcomes are counted exactly, and the record agrees
 * with the simulator.
 */
describe('a rollback with conflicting and unknown accounts (real PostgreSQL, Redis, simulator, worker)', () => {
  let h: EngineHarness;
  const logins = loginAllocator();

  beforeAll(async () => {
    h = await createEngineHarness('rbrefused', { accounts: 100 });
    await h.importPopulation({ count: 100, seed: 43, leakedShare: 0 });
    await h.startWorker();
  });
  afterAll(async () => {
    h.sim.setFaults({});
    await h?.close();
  });

  it('records conflict and account_not_found per item, counts them, and leaves those accounts as they are', async () => {
    const members = logins(40);
    const wave = await aWave('rbrefused').logins(members).protocols('imap', 'pop3').rate(1000).batchSize(10).started(h);
    await h.untilWaveState(wave.id, 'completed');
    const conflicting = members.slice(0, 5);
    const unknown = members.slice(20, 23);
    h.sim.setFaults({ conflictAccounts: conflicting, notFoundAccounts: unknown });
    await h.commands.rollback(wave.id, 'ops:test');
    await h.untilWaveState(wave.id, 'rolled_back');
    h.sim.setFaults({});

    expect(await recordVsMailstore(h, wave.id, members)).toEqual(cleanRecord(wave.id));
    const c = await h.counters(wave.id);
    expect({
      rolledBack: c['rollback:rolled_back'],
      conflict: c['rollback:conflict'],
      notFound: c['rollback:failed:account_not_found'],
      total: c['rollback:total'],
    }).toEqual({ rolledBack: 32, conflict: 5, notFound: 3, total: 40 });
    // The refused accounts are open at the mailstore, and so in the service's view.
    const open = await h.db.dataSource.query<{ login: string }[]>(
      `SELECT login FROM accounts WHERE login = ANY($1::text[]) AND imap_enabled AND pop3_enabled ORDER BY login`,
      [members],
    );
    expect(open.map((r) => r.login)).toEqual([...conflicting, ...unknown].sort());
    expect(members.filter((m) => h.sim.account(m)!.protocols.imap).sort()).toEqual([...conflicting, ...unknown].sort());
  });
});
