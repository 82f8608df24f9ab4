import {
  attackGatedWave,
  aWave,
  CLOSED_ANSWER as CLOSED,
  loginLoop as loop,
  pollUntil,
  promFailuresGate,
  realLogin as login,
  realPassword as password,
  RealLoginWorld,
  slowWave,
  startControlUsers,
  startRealLoginWorld,
  STUFFING_GATE,
  untilOpen,
} from '@app/testing';

/**
 * Gates that watch the real attack (issue 19), on a real Dovecot, a real Prometheus and the service's own processes
 * (libs/testing/src/real-login-world.ts, shared with bench:attack): a wave reopens accounts slowly, an attacker replays wrong passwords against the accounts it
 * opened over IMAP and POP3, and the gates stop the wave by themselves. Times are measured and printed, never
 * asserted (a deadline only): from the first wrong password to the last change Dovecot's passdb saw.
 */

/** The login-event gate: a failure ratio well above the control cohort's, on the accounts this wave opened. */
const stuffing = STUFFING_GATE;
/** The same question asked of Prometheus: Dovecot's failed-login counter, as a rate. */
const FAILURE_RATE = 'sum(rate(dovecot_auth_failures_total[5s]))';
const promFailures = promFailuresGate(FAILURE_RATE, 1, 'result > 2');
/**
 * Concurrent attackers (each a loop of wrong passwords, one connection at a time): one alone, on a loaded machine,
 * tries barely 2 passwords a second (a login is a new connection), too close to the Prometheus gate's condition for
 * the wave's 17 s left.
 */
const ATTACKERS = 4;

describe('gates on the real attack: Dovecot login events and Prometheus stop a wave by themselves', () => {
  let world: RealLoginWorld;
  let users: { stop(): Promise<void> };

  beforeAll(async () => {
    world = await startRealLoginWorld('login-gates-real');
    users = await startControlUsers(world);
  }, 120_000);

  afterAll(async () => {
    await users?.stop();
    await world?.close();
  }, 60_000);

  it('the login-event gate halts a wave whose reopened accounts see a credential-stuffing burst', async () => {
    const { waveId, logins, haltMs, open } = await attackGatedWave(world, 'stuffed', stuffing, {
      accounts: 20,
      attackers: ATTACKERS,
    });
    console.log(`login-event gate: ${haltMs} ms from the first wrong password to the last passdb change`);
    expect(await world.api.h.waveStatus(waveId)).toEqual({ state: 'halted', status_reason: 'gate:stuffing' });
    expect(open.size).toBeLessThan(logins.length);
  }, 120_000);

  it('a Prometheus gate on Dovecot failed-login counter halts the same attack', async () => {
    await pollUntilQuiet();
    const { waveId, logins, haltMs, open } = await attackGatedWave(world, 'stuffed-prom', promFailures, {
      accounts: 20,
      attackers: ATTACKERS,
    });
    console.log(
      `prometheus gate (1 s scrape and interval): ${haltMs} ms from the first wrong password to the last passdb change`,
    );
    expect(await world.api.h.waveStatus(waveId)).toEqual({ state: 'halted', status_reason: 'gate:prom-failures' });
    expect(open.size).toBeLessThan(logins.length);
    // Every evaluation is kept: the breach is Dovecot's counter rising above the condition.
    const measured = await world.api.call<{ gate: string; phase: string; value: number | null }[]>(
      'GET',
      `/waves/${waveId}/gate-measurements`,
    );
    expect(measured.status).toBe(200);
    const failed = measured.body.filter((m) => m.phase === 'failed');
    expect(failed).toEqual([expect.objectContaining({ gate: 'prom-failures', value: expect.any(Number) })]);
    expect(failed[0].value).toBeGreaterThan(2);
    expect(measured.body.some((m) => m.phase === 'successful')).toBe(true);
    // Prometheus read both sides: Dovecot's stats listener and the service's /metrics (with a reader's key).
    expect(await world.promValue('up{job="dovecot"}')).toBe(1);
    expect(await world.promValue('up{job="reopen-api"}')).toBe(1);
  }, 120_000);

  /** Until Prometheus sees no failed login (an earlier test's attack has left the rate window). */
  async function pollUntilQuiet() {
    await pollUntil(async () => (await world.promValue(FAILURE_RATE)) === 0, {
      timeoutMs: 30_000,
      intervalMs: 500,
      description: 'no failed login in the rate window',
    });
  }

  it('stopping Prometheus pauses a running wave as inconclusive', async () => {
    await pollUntilQuiet();
    const logins = world.take(30);
    const wave = await slowWave('prom-down', logins).gates(promFailures).started(world.api.h);
    await untilOpen(world, logins, 2);
    await world.prometheus.stop();
    try {
      await world.api.h.untilWaveState(wave.id, 'paused', { timeoutMs: 30_000 });
    } finally {
      await world.prometheus.start();
    }
    expect(await world.api.h.waveStatus(wave.id)).toEqual({
      state: 'paused',
      status_reason: 'inconclusive:prom-failures',
    });
    expect((await world.openNow(logins)).size).toBeLessThan(logins.length);
  }, 120_000);

  it('cutting the event stream pauses a running wave as inconclusive', async () => {
    const logins = world.take(30);
    const wave = await slowWave('stream-cut', logins).gates(stuffing).started(world.api.h);
    await untilOpen(world, logins, 2);
    await world.dovecot.exportLoginEventsTo(null);
    const cutAt = performance.now();
    try {
      await world.api.h.untilWaveState(wave.id, 'paused', { timeoutMs: 40_000 });
      console.log(`event stream cut: paused ${Math.round(performance.now() - cutAt)} ms later (silence limit 10 s)`);
    } finally {
      await world.dovecot.exportLoginEventsTo(world.eventsUrl);
    }
    expect(await world.api.h.waveStatus(wave.id)).toEqual({ state: 'paused', status_reason: 'inconclusive:stuffing' });
  }, 120_000);

  it('the wave’s reclose closes the attacked accounts again and leaves the others open', async () => {
    const logins = world.take(6);
    const wave = await aWave('reclose')
      .logins(logins)
      .rate(100)
      .reclose({ failures: 4, distinctIps: 2, windowSeconds: 60 })
      .started(world.api.h);
    await world.api.h.untilWaveState(wave.id, 'completed');
    const [a, b, ...others] = logins;
    for (const user of others) expect((await login(world, 0, user, password(user))).ok).toBe(true);
    // Four wrong passwords each, from two addresses, over both protocols.
    for (const victim of [a, b]) {
      for (let n = 0; n < 4; n++) {
        expect((await login(world, n, victim, 'Summer2025!', `127.0.0.${2 + (n % 2)}`)).ok).toBe(false);
      }
    }
    for (const victim of [a, b]) {
      const refused = await pollUntil(
        async () => {
          const answers = [
            await login(world, 0, victim, password(victim)),
            await login(world, 1, victim, password(victim)),
          ];
          return answers.every((x) => !x.ok && CLOSED.test(x.line)) && answers;
        },
        { timeoutMs: 30_000, intervalMs: 250, description: `${victim} closed again` },
      );
      expect(refused).toHaveLength(2);
    }
    for (const user of others) {
      expect((await login(world, 0, user, password(user))).ok).toBe(true);
      expect((await login(world, 1, user, password(user))).ok).toBe(true);
    }
    // Through the support lane, once per account, with its reason and the wave as ticket.
    const ops = await world.api.h.db.dataSource.query<{ login: string; reason: string; ticket: string }[]>(
      `SELECT login, reason, ticket FROM operations WHERE ticket = $1 ORDER BY login`,
      [`wave:${wave.id}`],
    );
    expect(ops).toEqual(
      [a, b].sort().map((l) => ({ login: l, reason: 'suspected_credential_stuffing', ticket: `wave:${wave.id}` })),
    );
  }, 120_000);

  it('typo noise (a few wrong passwords among many right ones) does not halt the wave', async () => {
    const logins = world.take(10);
    const wave = await slowWave('typos', logins).gates(stuffing).started(world.api.h);
    let opened = new Set<string>();
    const opener = loop(async () => (opened = await world.openNow(logins)), 200);
    // The wave's own users log in as soon as their account is open, and the control cohort's, in turn: one typo in
    // twenty logins on each side.
    const noise = loop(async (n) => {
      const open = logins.filter((l) => opened.has(l));
      const side = n % 2 === 0 && open.length ? open : world.control;
      const user = side[Math.floor(n / 2) % side.length];
      return login(world, n >> 1, user, n % 40 === 6 || n % 40 === 27 ? `${password(user)}x` : password(user));
    }, 20);
    // What the gate said while the wave ran (its progress, as a dashboard reads it).
    const judged: { status: string; value?: number }[] = [];
    const reader = loop(async () => {
      const progress = await world.api.call('GET', `/waves/${wave.id}/progress`, { key: 'viewer' });
      judged.push(...(progress.body.gates as { status: string; value?: number }[]));
    }, 250);
    try {
      await world.api.h.untilWaveState(wave.id, ['completed', 'halted', 'paused'], { timeoutMs: 60_000 });
    } finally {
      await noise.stop();
      await reader.stop();
      await opener.stop();
    }
    expect(await world.api.h.waveStatus(wave.id)).toMatchObject({ state: 'completed' });
    expect((await world.openNow(logins)).size).toBe(logins.length);
    // The gate did judge the noise (a failure ratio above 0 on the wave's accounts), and found it within bounds.
    expect(judged.filter((g) => g.status === 'ok' && (g.value ?? 0) > 0).length).toBeGreaterThan(0);
    expect(judged.map((g) => g.status)).not.toContain('breached');
  }, 120_000);
});
