import { Gate } from '@app/domain';
import { aWave, createEngineHarness, dovecotLogin, EngineHarness } from '@app/testing';
import { LoginIngestService } from '../logins/login-ingest.service';

function event(login: string, ok: boolean, ip?: string) {
  return dovecotLogin(login, { ok, ip });
}

const stuffing = (over: Partial<Gate> = {}): Gate => ({
  name: 'stuffing',
  metric: 'login_failure_ratio',
  windowSeconds: 30,
  minSamples: 5,
  threshold: 0.5,
  action: 'halt',
  ...over,
});

describe('login gates on a running wave (real PostgreSQL, Redis, simulator, worker)', () => {
  let h: EngineHarness;
  let ingest: LoginIngestService;
  let general: string[];

  beforeAll(async () => {
    h = await createEngineHarness('login-gates');
    await h.importPopulation({ count: 400, healthShare: 0.5, leakedShare: 0 });
    await h.startWorker();
    ingest = new LoginIngestService(h.db.dataSource);
    general = (
      await h.db.dataSource.query<{ login: string }[]>(
        `SELECT login FROM accounts WHERE cohorts = '{general}' LIMIT 20`,
      )
    ).map((r) => r.login);
  });
  afterAll(async () => {
    await ingest?.close();
    await h?.close();
  });

  async function enabledLogins(waveId: string, n: number): Promise<string[]> {
    await h.untilCounters(waveId, (c) => (c.enabled ?? 0) >= n);
    const rows = await h.db.dataSource.query<{ login: string }[]>(
      `SELECT a.login FROM wave_members m JOIN accounts a ON a.id = m.account_id
        WHERE m.wave_id = $1 AND m.state = 'enabled' ORDER BY m.seq LIMIT $2`,
      [waveId, n],
    );
    return rows.map((r) => r.login);
  }

  it('a burst of failed logins on the accounts the wave opened halts it; typo noise does not', async () => {
    // The stream speaks (others' logins), so the gate is not inconclusive for silence.
    ingest.accept(general.map((l) => event(l, true)));
    await ingest.flush();
    const wave = await aWave('health').cohorts('health').rate(10).gates(stuffing()).started(h);
    const opened = await enabledLogins(wave.id, 10);
    // Users mistyping: 1 failure in 10 logins on the opened accounts. The wave goes on.
    ingest.accept([...opened.map((l) => event(l, true)), event(opened[0], false)]);
    await ingest.flush();
    await new Promise((r) => setTimeout(r, 2500));
    expect((await h.waveStatus(wave.id)).state).toBe('running');
    // The attack: wrong passwords from many addresses on the same accounts.
    ingest.accept(opened.flatMap((l, i) => [event(l, false, `198.51.100.${i}`), event(l, false, `198.51.101.${i}`)]));
    await ingest.flush();
    // Within a few gate rounds (how fast is bench:attack's to measure, not this test's).
    await h.untilWaveState(wave.id, 'halted', { timeoutMs: 15_000 });
    expect(await h.waveStatus(wave.id)).toEqual({ state: 'halted', status_reason: 'gate:stuffing' });
    const [{ gate_state }] = await h.db.dataSource.query<
      { gate_state: { gate: string; status: string; value: number }[] }[]
    >(`SELECT gate_state FROM waves WHERE id = $1`, [wave.id]);
    // 21 of 31 logins failed in the window.
    expect(gate_state).toEqual([expect.objectContaining({ gate: 'stuffing', status: 'breached', value: 21 / 31 })]);
  });

  it('a silent stream pauses the wave as inconclusive', async () => {
    const wave = await aWave('general')
      .cohorts('general')
      .rate(5)
      .gates(stuffing({ name: 'quiet', silenceSeconds: 10 }))
      .started(h);
    await h.untilWaveState(wave.id, 'paused', { timeoutMs: 20_000 });
    expect(await h.waveStatus(wave.id)).toEqual({ state: 'paused', status_reason: 'inconclusive:quiet' });
  });
});
