import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Gate } from '@app/domain';
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

/**
 * A Prometheus that does not answer (overloaded during the very attack the gates watch) must not hold up the other
 * gates: a worker's gate round waited for each prometheus query up to PROMETHEUS_TIMEOUT_MS, wave after wave, so a
 * breached login gate acted that much later.
 */
describe('gates while Prometheus hangs (real PostgreSQL, Redis, simulator, worker)', () => {
  let h: EngineHarness;
  let ingest: LoginIngestService;
  let silent: Server;

  beforeAll(async () => {
    silent = createServer(() => undefined);
    await new Promise((r) => silent.listen(0, '127.0.0.1', () => r(null)));
    const { port } = silent.address() as AddressInfo;
    h = await createEngineHarness(
      'gates-slow-prom',
      {},
      { PROMETHEUS_URL: `http://127.0.0.1:${port}`, PROMETHEUS_TIMEOUT_MS: '30000' },
    );
    await h.importPopulation({ count: 200, healthShare: 0.5, leakedShare: 0 });
    await h.startWorker();
    ingest = new LoginIngestService(h.db.dataSource);
  });
  afterAll(async () => {
    await ingest?.close();
    await h?.close();
    silent?.closeAllConnections();
    silent?.close();
  });

  it('a burst of failed logins halts the wave within seconds, not after the query times out', async () => {
    ingest.accept((await cohortLogins(h, 'general', 20)).map((l) => dovecotLogin(l, { ok: true })));
    await ingest.flush();
    const slow: Gate = {
      name: 'auth-failures',
      metric: 'prometheus',
      query: 'sum(rate(dovecot_auth_failures_total[1m]))',
      intervalSeconds: 1,
      failureCondition: 'result > 20',
      consecutiveErrorLimit: 100,
      action: 'halt',
    } as Gate;
    const wave = await aWave('health')
      .cohorts('health')
      .rate(10)
      .gates({ ...STUFFING_GATE, silenceSeconds: 300 }, slow)
      .started(h);
    const opened = await enabledLogins(h, wave.id, 10);
    ingest.accept(
      opened.flatMap((l, i) => [1, 2].map((n) => dovecotLogin(l, { ok: false, ip: `198.51.10${n}.${i}` }))),
    );
    await ingest.flush();
    await h.untilWaveState(wave.id, 'halted', { timeoutMs: 8_000 });
    expect(await h.waveStatus(wave.id)).toEqual({ state: 'halted', status_reason: 'gate:stuffing' });
  });
});
