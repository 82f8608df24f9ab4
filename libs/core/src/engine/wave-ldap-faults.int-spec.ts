import {
  aWave,
  cleanRecord,
  createEngineHarness,
  EngineHarness,
  loginRange,
  pollUntil,
  PrivateSlapd,
  recordVsMailstore,
  startTcpGate,
  switchesView,
  type TcpGate,
  WorkerProcess,
} from '@app/testing';

const ACCOUNTS = 300;

/**
 * wave-native-faults' question for the `ldap` driver: a wave, then its rollback, through a directory whose connections
 * are cut again and again (a TCP relay in front of slapd shut and opened under the driver's pool). The worker must
 * live through it, and the directory end exactly as recorded. Needs the build (worker processes).
 */
describe('a wave through ldap with its connections cut (real slapd, PostgreSQL, Redis, worker process)', () => {
  let h: EngineHarness;
  let slapd: PrivateSlapd;
  let gate: TcpGate;
  let worker: WorkerProcess | undefined;
  const members = loginRange(1, ACCOUNTS);

  /** The directory's switches for the members, in the simulator's shape recordVsMailstore reads. */
  async function directoryAsMailstore() {
    const state = new Map<string, { imap: boolean; pop3: boolean }>();
    for (const login of members) {
      const e = await slapd.entry(login);
      state.set(login, { imap: e.reopenImapEnabled?.[0] === 'TRUE', pop3: e.reopenPop3Enabled?.[0] === 'TRUE' });
    }
    return { ...h, sim: switchesView(state) };
  }

  /** Until the wave is in `state`, cutting the directory's connections at every poll and resuming after a pause. */
  async function underCuts(waveId: string, state: string): Promise<void> {
    await pollUntil(
      async () => {
        if (!worker?.alive) throw new Error(`the worker process ended:\n${worker?.output().slice(-2000)}`);
        gate.shut();
        await new Promise((resolve) => setTimeout(resolve, 80));
        gate.open();
        const s = await h.waveStatus(waveId);
        if (s.state === 'paused' && s.status_reason === 'mailstore_unreachable')
          await h.commands.resume(waveId, 'ops:test');
        return s.state === state;
      },
      { timeoutMs: 120_000, intervalMs: 150, description: `wave ${state} under cuts` },
    );
    gate.open();
  }

  beforeAll(async () => {
    slapd = await PrivateSlapd.start(members.map((login) => ({ login, password: 'secret' })));
    gate = await startTcpGate(slapd.port);
    h = await createEngineHarness(
      'ldapfaults',
      { accounts: 10 },
      {
        MAILSTORE_DRIVER: 'ldap',
        ...slapd.driverEnv(),
        LDAP_URL: `ldap://127.0.0.1:${gate.port}`,
        BATCH_LEASE_MS: '8000',
        BATCH_RETRY_BASE_MS: '100',
        BATCH_RETRY_MAX_MS: '500',
        RECONCILE_INTERVAL_MS: '500',
      },
    );
    await h.importPopulation({ count: ACCOUNTS, seed: 93, leakedShare: 0 });
  });
  afterAll(async () => {
    await worker?.kill();
    await h?.close();
    await gate?.close();
    await slapd?.stop();
  });

  it('opens and then closes exactly what it records, the worker alive throughout', async () => {
    worker = await WorkerProcess.start(h.env);
    const wave = await aWave('ldap-cut').logins(members).protocols('imap', 'pop3').rate(100).batchSize(10).started(h);
    await underCuts(wave.id, 'completed');
    // The premise: calls failed for the cuts and were sent again.
    const [c] = await h.db.dataSource.query<{ failed: number; resent: number }[]>(
      `SELECT (SELECT count(*)::int FROM mailstore_calls WHERE wave_id = $1 AND outcome <> 'ok') AS failed,
              (SELECT count(*)::int FROM wave_batches WHERE wave_id = $1 AND attempts > 1) AS resent`,
      [wave.id],
    );
    expect(c.failed).toBeGreaterThan(0);
    expect(c.resent).toBeGreaterThan(0);
    expect(await recordVsMailstore(await directoryAsMailstore(), wave.id, members)).toEqual(cleanRecord(wave.id));

    await h.commands.rollback(wave.id, 'ops:test');
    await underCuts(wave.id, 'rolled_back');
    expect(worker.alive).toBe(true);
    expect(await recordVsMailstore(await directoryAsMailstore(), wave.id, members, { rolledBack: true })).toEqual(
      cleanRecord(wave.id),
    );
  }, 240_000);

  it('pauses, failing no member, while the base DN is missing (a directory restored empty, a typo), then goes on', async () => {
    await worker?.kill();
    worker = await WorkerProcess.start({ ...h.env, LDAP_BASE_DN: 'ou=gone,dc=example,dc=test' });
    const few = members.slice(0, 20);
    const wave = await aWave('ldap-no-base').logins(few).protocols('imap').rate(100).batchSize(10).started(h);
    await h.untilWaveState(wave.id, ['paused', 'completed'], { timeoutMs: 30_000 });
    // The search's noSuchObject says nothing of the accounts: failing them, a rollback would leave them open.
    const [m] = await h.db.dataSource.query<{ failed: number; state: string; reason: string }[]>(
      `SELECT (SELECT count(*)::int FROM wave_members WHERE wave_id = $1 AND state = 'failed') AS failed,
              state, status_reason AS reason FROM waves WHERE id = $1`,
      [wave.id],
    );
    expect(m).toEqual({ failed: 0, state: 'paused', reason: 'mailstore_unreachable' });

    await worker.kill();
    worker = await WorkerProcess.start(h.env);
    await h.commands.resume(wave.id, 'ops:test');
    await h.untilWaveState(wave.id, 'completed', { timeoutMs: 60_000 });
    expect(await recordVsMailstore(await directoryAsMailstore(), wave.id, few)).toEqual(cleanRecord(wave.id));
  }, 120_000);
});
