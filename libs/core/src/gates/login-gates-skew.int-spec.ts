import {
  aWave,
  cohortLogins,
  createEngineHarness,
  dovecotLogin,
  enabledLogins,
  EngineHarness,
  STUFFING_GATE,
} from '@app/testing';
import { LoginIngestService } from '../logins/login-ingest.service';

/** The mail server's clock this far behind ours (NTP broken on the Dovecot host): within the 10 min it accepts. */
const SKEW_MS = 120_000;

/** A Dovecot login stamped by a clock SKEW_MS behind ours. */
function event(login: string, ok: boolean, ip?: string) {
  return dovecotLogin(login, { ok, ip, at: new Date(Date.now() - SKEW_MS) });
}

/** The e2e spec's gate (its control cohort has no account here: a control of 0), the stream judged over 5 min. */
const stuffing = { ...STUFFING_GATE, silenceSeconds: 300 };

/**
 * Login events the service accepts are counted when they arrive: a mail server whose clock runs behind (within the
 * accepted age) must not put its logins in buckets the gates' windows no longer read, which left a running wave blind.
 */
describe('login gates fed by a mail server whose clock is behind (real PostgreSQL, Redis, simulator, worker)', () => {
  let h: EngineHarness;
  let ingest: LoginIngestService;

  beforeAll(async () => {
    h = await createEngineHarness('login-gates-skew');
    await h.importPopulation({ count: 200, healthShare: 0.5, leakedShare: 0 });
    await h.startWorker();
    ingest = new LoginIngestService(h.db.dataSource);
  });
  afterAll(async () => {
    await ingest?.close();
    await h?.close();
  });

  it('a burst of failed logins on the accounts the wave opened halts it', async () => {
    // The stream speaks (others' logins, stamped by the same clock), so the gate is not inconclusive for silence.
    ingest.accept((await cohortLogins(h, 'general', 20)).map((l) => event(l, true)));
    await ingest.flush();
    const wave = await aWave('health').cohorts('health').rate(10).gates(stuffing).started(h);
    const opened = await enabledLogins(h, wave.id, 10);
    const results = ingest.accept(
      opened.flatMap((l, i) => [event(l, false, `198.51.100.${i}`), event(l, false, `198.51.101.${i}`)]),
    );
    expect(results.every((r) => r === 'accepted')).toBe(true);
    await ingest.flush();
    await h.untilWaveState(wave.id, 'halted', { timeoutMs: 15_000 });
    expect(await h.waveStatus(wave.id)).toEqual({ state: 'halted', status_reason: 'gate:stuffing' });
  });
});
