import { aWave, createEngineHarness, EngineHarness, pollUntil } from '@app/testing';
import { ProgressService } from '../progress/progress.service';
import { LoginIngestService, LOGIN_INGEST_DEFAULTS } from './login-ingest.service';
import { LoginReaction, recloseThroughSupport } from './login-reaction';
import { LoginCountRepository } from './login-count.repository';

/** A failed login as Dovecot exports it (no `success` field). */
function failure(login: string, ip: string) {
  return {
    event: 'auth_request_finished',
    end_time: new Date().toISOString(),
    fields: { service: 'pop3', original_user: login, remote_ip: ip, session: `s${Math.random()}` },
  };
}

describe('the per-account reaction to credential stuffing (real PostgreSQL, the support lane, the simulator)', () => {
  let h: EngineHarness;
  let ingest: LoginIngestService;
  let waveId: string;
  let opened: string[];
  let other: string;

  beforeAll(async () => {
    h = await createEngineHarness('login-reaction');
    await h.importPopulation({ count: 200, healthShare: 0.5, leakedShare: 0 });
    await h.startWorker();
    const reaction = new LoginReaction(h.db.dataSource, (c) => recloseThroughSupport(h.support(), c), 1000);
    ingest = new LoginIngestService(h.db.dataSource, new LoginCountRepository(), LOGIN_INGEST_DEFAULTS, reaction);
    const wave = await aWave('health')
      .cohorts('health')
      .rate(100_000)
      .reclose({ failures: 3, distinctIps: 2, windowSeconds: 60 })
      .started(h);
    await h.untilWaveState(wave.id, 'completed');
    waveId = wave.id;
    opened = (
      await h.db.dataSource.query<{ login: string }[]>(
        `SELECT a.login FROM wave_members m JOIN accounts a ON a.id = m.account_id
          WHERE m.wave_id = $1 AND m.state = 'enabled' ORDER BY m.seq LIMIT 3`,
        [waveId],
      )
    ).map((r) => r.login);
    other = (
      await h.db.dataSource.query<{ login: string }[]>(`SELECT login FROM accounts WHERE cohorts = '{general}' LIMIT 1`)
    )[0].login;
  });
  afterAll(async () => {
    await ingest?.close();
    await h?.close();
  });

  it('closes again, once, an opened account attacked from several addresses; leaves the others open', async () => {
    const [attacked, typo, _untouched] = opened;
    expect(h.sim.account(attacked)?.protocols).toEqual({ imap: true, pop3: true });
    ingest.accept([
      failure(attacked, '198.51.100.1'),
      failure(attacked, '198.51.100.2'),
      failure(attacked, '198.51.100.3'),
      // One user mistyping, five times, from home: one address.
      ...Array.from({ length: 5 }, () => failure(typo, '203.0.113.10')),
      // An account no wave opened: not this reaction's.
      failure(other, '198.51.100.1'),
      failure(other, '198.51.100.2'),
      failure(other, '198.51.100.3'),
    ]);
    await ingest.flush();
    const decided = await h.db.dataSource.query<
      { login: string; failures: number; distinct_ips: number; operation_id: string }[]
    >(
      `SELECT a.login, r.failures, r.distinct_ips, r.operation_id FROM login_reclosures r
         JOIN accounts a ON a.id = r.account_id WHERE r.wave_id = $1`,
      [waveId],
    );
    expect(decided).toEqual([{ login: attacked, failures: 3, distinct_ips: 3, operation_id: expect.any(String) }]);
    // Through the support lane: its own prior state, the reason, audited; the mailstore closes both protocols.
    await pollUntil(async () => h.sim.account(attacked)?.protocols.pop3 === false, { timeoutMs: 10_000 });
    expect(h.sim.account(attacked)?.protocols).toEqual({ imap: false, pop3: false });
    const [op] = await h.db.dataSource.query<
      { kind: string; reason: string; ticket: string; actor: string; state: string }[]
    >(`SELECT kind, reason, ticket, actor, state FROM operations WHERE id = $1`, [decided[0].operation_id]);
    expect(op).toMatchObject({ kind: 'disable', reason: 'suspected_credential_stuffing', ticket: `wave:${waveId}` });
    // What the wave left on the account: both protocols on, at the version its write made.
    const [left] = await h.db.dataSource.query<{ account_id: string; result_version: number }[]>(
      `SELECT m.account_id, m.result_version FROM wave_members m JOIN accounts a ON a.id = m.account_id
        WHERE m.wave_id = $1 AND a.login = $2 AND m.state = 'enabled'`,
      [waveId, attacked],
    );
    // The operation applied the change on that state (the simulator's versions count writes: one more, its own).
    // The mailstore changes before the runner's transaction records it: wait for that commit.
    const finished = async () => {
      const [{ state }] = await h.db.dataSource.query<{ state: string }[]>(
        `SELECT state FROM operations WHERE id = $1`,
        [decided[0].operation_id],
      );
      return state === 'succeeded' || state === 'failed';
    };
    await pollUntil(finished, { timeoutMs: 10_000 });
    const [done] = await h.db.dataSource.query<Record<string, unknown>[]>(
      `SELECT state, outcome, result_version, prior_imap, prior_pop3 FROM operations WHERE id = $1`,
      [decided[0].operation_id],
    );
    // Its own prior state recorded on the operation too: what the wave left (both on).
    expect(done).toEqual({
      state: 'succeeded',
      outcome: 'applied',
      result_version: left.result_version + 1,
      prior_imap: true,
      prior_pop3: true,
    });
    // Audited under the engine's name: the request with the account's prior state (the state the wave left, as the
    // service knew it under the account's lock), then the change with both protocols off at the version it made.
    const audited = await h.db.dataSource.query<Record<string, unknown>[]>(
      `SELECT actor, action, account_id, login, reason, ticket, before, after FROM audit_log
        WHERE operation_id = $1 ORDER BY id`,
      [decided[0].operation_id],
    );
    const row = {
      actor: 'engine:login-events',
      account_id: left.account_id,
      login: attacked,
      reason: 'suspected_credential_stuffing',
      ticket: `wave:${waveId}`,
    };
    expect(audited).toEqual([
      {
        ...row,
        action: 'support.disable_requested',
        before: { imap: true, pop3: true, held: false },
        after: null,
      },
      {
        ...row,
        action: 'support.disabled',
        before: null,
        after: { imap: false, pop3: false, version: left.result_version + 1, changed: true },
      },
    ]);
    expect(h.sim.account(typo)?.protocols).toEqual({ imap: true, pop3: true });
    expect(h.sim.account(other)?.protocols).toEqual({ imap: false, pop3: false });
    // Counted in progress.
    expect((await new ProgressService(h.db.dataSource).wave(waveId)).reclosed).toBe(1);
    // More failures on the same account: no second operation.
    ingest.accept([failure(attacked, '198.51.100.4'), failure(attacked, '198.51.100.5')]);
    await ingest.flush();
    const [{ n }] = await h.db.dataSource.query<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM operations WHERE reason = 'suspected_credential_stuffing'`,
    );
    expect(n).toBe(1);
    expect(ingest.stats()).toMatchObject({ reclosed: 1, reactionErrors: 0 });
  });
});
