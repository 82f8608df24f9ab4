import { aWave, createEngineHarness, reactingIngest, dovecotLogin, EngineHarness, pollUntil } from '@app/testing';
import type { LoginIngestService } from '../logins/login-ingest.service';

/**
 * Eventual propagation's read-back against a later writer: an account the wave opened and the per-account reaction
 * (or a support agent) closed again before the read-back is not a propagation mismatch of the wave's.
 */
describe('read-back after the per-account reaction closed an account again (real services)', () => {
  let h: EngineHarness;
  let ingest: LoginIngestService;
  beforeAll(async () => {
    h = await createEngineHarness('verify-reclosed', {
      accounts: 40,
      propagation: { mode: 'eventual', maxSeconds: 4 },
    });
    await h.importPopulation({ count: 40, seed: 52, leakedShare: 0 });
    await h.startWorker();
    ingest = reactingIngest(h);
  });
  afterAll(async () => {
    await ingest?.close();
    await h?.close();
  });

  it('completes the wave: the reclosed account is the reaction’s, not a propagation failure', async () => {
    const w = await aWave('eventual')
      .remaining()
      .protocols('imap', 'pop3')
      .rate(10_000)
      .batchSize(100)
      .reclose({ failures: 2, distinctIps: 2, windowSeconds: 60 })
      .started(h);
    await h.untilCounters(w.id, (c) => (c.total ?? 0) > 0 && (c.pending ?? 0) === 0 && (c.in_flight ?? 0) === 0, {
      timeoutMs: 30_000,
      description: 'all members terminal',
    });
    const [{ login }] = await h.db.dataSource.query<{ login: string }[]>(
      `SELECT a.login FROM wave_members m JOIN accounts a ON a.id = m.account_id
        WHERE m.wave_id = $1 AND m.state = 'enabled' ORDER BY m.seq LIMIT 1`,
      [w.id],
    );
    ingest.accept([
      dovecotLogin(login, { ok: false, ip: '198.51.100.1' }),
      dovecotLogin(login, { ok: false, ip: '198.51.100.2' }),
    ]);
    await ingest.flush();
    await pollUntil(async () => h.sim.account(login)?.protocols.imap === false, {
      timeoutMs: 10_000,
      description: 'the reaction closed the account',
    });
    const row = async () =>
      (
        await h.db.dataSource.query<{ state: string; status_reason: string | null; verification: unknown }[]>(
          `SELECT state, status_reason, verification FROM waves WHERE id = $1`,
          [w.id],
        )
      )[0];
    await pollUntil(async () => (await row()).state !== 'running', { timeoutMs: 30_000, description: 'read-back' });
    const r = await row();
    expect({ state: r.state, reason: r.status_reason }).toEqual({ state: 'completed', reason: null });
    expect(r.verification).toMatchObject({ mismatches: [], done: true });
    // The reaction's close stands.
    expect(h.sim.account(login)?.protocols).toEqual({ imap: false, pop3: false });
  });
});
