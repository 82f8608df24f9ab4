import {
  aWave,
  countersFromTruth,
  createEngineHarness,
  EngineHarness,
  loginAllocator,
  untilOperationDone,
} from '@app/testing';
import type { RunningSimulator } from '@app/mailstore-sim';
import { OperationService } from './operation.service';

/**
 * A support operation whose PATCH was applied but its answer lost, and whose retries under the same key then all
 * failed (500: nothing more applied). No other spec faults the support lane's PATCH. The mailstore changed the
 * account; the record must not say it did not (a failed enable leaves the account open while the service shows it
 * closed; a failed rollback leaves its member recorded open and never restorable again).
 *
 * Both failed before OperationInDoubtError (operation-runner.ts): the enable ended `failed` with the account recorded
 * closed while the simulator had it open; the rollback ended `failed`, its member `rollback_state = failed` (neither
 * support nor a wave rollback could take it again) and the account recorded open while the simulator had it closed.
 * Now an operation any attempt of which may have applied (an answer in doubt) is not finished as failed when its
 * retries run out: it stays unfinished and its job runs again later under the same key, whose stored answer settles
 * it, as the wave engine keeps a batch in doubt instead of failing its members.
 */
describe('a support operation in doubt when its retries run out (real PostgreSQL, Redis, simulator, worker)', () => {
  let h: EngineHarness;
  let support: OperationService;
  const logins = loginAllocator();
  const lostThenFailing = (): Parameters<RunningSimulator['setFaults']>[0] => ({
    script: ['drop_after_apply', '500', '500', '500', '500'],
    endpoints: ['patch'],
  });

  beforeAll(async () => {
    h = await createEngineHarness('opdoubt', { accounts: 50 });
    await h.importPopulation({ count: 50, seed: 83, leakedShare: 0 });
    await h.startWorker();
    support = h.support();
  });
  afterEach(() => h.sim.setFaults({}));
  afterAll(async () => {
    await h?.close();
  });

  const account = async (login: string) =>
    (
      await h.db.dataSource.query<{ imap: boolean; pop3: boolean }[]>(
        `SELECT imap_enabled AS imap, pop3_enabled AS pop3 FROM accounts WHERE login = $1`,
        [login],
      )
    )[0];

  it('an enable applied before its retries ran out is not recorded as failed with the account closed', async () => {
    const [login] = logins(1);
    h.sim.setFaults(lostThenFailing());
    const op = await support.request(login, 'enable', { reason: 'user asked', ticket: 'INC-1' }, 'support:test');
    const done = await untilOperationDone(support, op.id, { timeoutMs: 30_000 });
    // The premise: the first PATCH applied (its answer lost), the others applied nothing.
    const patches = h.sim.calls().filter((c) => c.endpoint === 'patch' && c.accounts.includes(login));
    expect(patches.map((c) => c.outcome)).toEqual([
      'dropped_after_apply',
      'internal',
      'internal',
      'internal',
      'internal',
      // The operation's next run: the stored answer of the first attempt, under the same key.
      'replayed',
    ]);
    expect(h.sim.account(login)!.protocols).toEqual({ imap: true, pop3: true });
    // The record agrees with the mailstore: the account is shown open, the operation not failed.
    expect({ state: done.state, account: await account(login) }).toEqual({
      state: 'succeeded',
      account: { imap: true, pop3: true },
    });
  });

  it('a rollback applied before its retries ran out restores its member, as the mailstore did', async () => {
    const members = logins(3);
    const wave = await aWave('opdoubt').logins(members).protocols('imap', 'pop3').rate(1000).started(h);
    await h.untilWaveState(wave.id, 'completed');
    h.sim.setFaults(lostThenFailing());
    const op = await support.requestRollback(
      members[0],
      { reason: 'reopened by mistake', ticket: 'INC-2' },
      'support:test',
    );
    const done = await untilOperationDone(support, op.id, { timeoutMs: 30_000 });
    expect(h.sim.account(members[0])!.protocols).toEqual({ imap: false, pop3: false });
    const [member] = await h.db.dataSource.query<{ rollback_state: string | null }[]>(
      `SELECT m.rollback_state FROM wave_members m JOIN accounts a ON a.id = m.account_id
        WHERE m.wave_id = $1 AND a.login = $2`,
      [wave.id, members[0]],
    );
    expect(await h.counters(wave.id)).toEqual(await countersFromTruth(h.db, wave.id));
    expect({ state: done.state, member: member.rollback_state, account: await account(members[0]) }).toEqual({
      state: 'succeeded',
      member: 'rolled_back',
      account: { imap: false, pop3: false },
    });
  });
});
