import {
  aWave,
  createEngineHarness,
  reactingIngest,
  dovecotLogin,
  EngineHarness,
  loginRange,
  pollUntil,
} from '@app/testing';
import type { LoginIngestService } from './login-ingest.service';

/**
 * The per-account reaction's close against the wave's later rollback: a POP3-only wave on an account whose IMAP
 * support had opened before; the reaction closes both; the wave's rollback must not open anything again.
 */
describe('the per-account reaction, then the wave rolled back (real PostgreSQL, support lane, simulator)', () => {
  let h: EngineHarness;
  let ingest: LoginIngestService;
  beforeAll(async () => {
    h = await createEngineHarness('reaction-rollback');
    await h.importPopulation({ count: 40, leakedShare: 0 });
    await h.startWorker();
    ingest = reactingIngest(h);
  });
  afterAll(async () => {
    await ingest?.close();
    await h?.close();
  });

  const opsDone = async (login: string) => {
    const rows = await h.db.dataSource.query<{ state: string }[]>(`SELECT state FROM operations WHERE login = $1`, [
      login,
    ]);
    return rows.length > 0 && rows.every((r) => r.state === 'succeeded' || r.state === 'failed');
  };

  it('leaves the reclosed account closed on both protocols, and restores the others', async () => {
    const logins = loginRange(1, 10);
    const [attacked, other] = logins;
    await h.support().request(attacked, 'enable', { protocols: ['imap'], reason: 'exec travel', ticket: 'T-1' }, 's');
    await pollUntil(() => opsDone(attacked), { description: 'support enable done' });
    expect(h.sim.account(attacked)?.protocols).toEqual({ imap: true, pop3: false });
    const wave = await aWave('pop3 only')
      .logins(logins)
      .protocols('pop3')
      .rate(100_000)
      .reclose({ failures: 2, distinctIps: 2, windowSeconds: 60 })
      .started(h);
    await h.untilWaveState(wave.id, 'completed', { timeoutMs: 20_000 });
    expect(h.sim.account(attacked)?.protocols).toEqual({ imap: true, pop3: true });
    ingest.accept([
      dovecotLogin(attacked, { ok: false, ip: '198.51.100.1', service: 'pop3' }),
      dovecotLogin(attacked, { ok: false, ip: '198.51.100.2', service: 'pop3' }),
    ]);
    await ingest.flush();
    await pollUntil(async () => h.sim.account(attacked)?.protocols.imap === false && (await opsDone(attacked)), {
      description: 'reclosed',
    });
    await h.commands.rollback(wave.id, 'ops:test');
    await h.untilWaveState(wave.id, 'rolled_back', { timeoutMs: 30_000 });
    expect(h.sim.account(attacked)?.protocols).toEqual({ imap: false, pop3: false });
    expect(h.sim.account(other)?.protocols).toEqual({ imap: false, pop3: false });
    const [row] = await h.db.dataSource.query<{ state: string; rollback_state: string | null }[]>(
      `SELECT m.state, m.rollback_state FROM wave_members m JOIN accounts a ON a.id = m.account_id
        WHERE m.wave_id = $1 AND a.login = $2`,
      [wave.id, attacked],
    );
    // The reaction's write came after the wave's: the rollback leaves it (a conflict), never restores over it.
    expect(row).toEqual({ state: 'enabled', rollback_state: 'conflict' });
  });
});
