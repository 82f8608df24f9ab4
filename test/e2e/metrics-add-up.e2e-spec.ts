import { freeLoopbackPort, WorkerProcess } from '@app/testing';
import { ApiHarness, startApiHarness } from './api-harness';
import { ApiProcess } from './api-process';
import { sumOf } from './prometheus-text';

const CALLS = 'reopen_mailstore_call_duration_seconds_count';
const REQUESTS = 'reopen_api_request_duration_seconds_count';
const LOGIN_EVENTS = 'reopen_api_login_events_received_total';

/**
 * Metrics that add up across replicas (issue 21): two API processes and two workers on one database. Each process
 * exports only what it observed itself, so `sum()` over the replicas of a counter is the real count: the workers'
 * mailstore calls equal the rows of `mailstore_calls` (the API, which rebuilt them from that table, counted each call
 * once per replica and again after every restart), the APIs' requests and login events equal what was sent. A
 * restarted process starts from 0 instead of replaying history.
 */
describe('metrics across two API processes and two workers on one database', () => {
  let api: ApiHarness;
  let apiB: ApiProcess;
  const workers: { port: number; process?: WorkerProcess }[] = [];

  const scrapeWorker = async (i: number) => (await fetch(`http://127.0.0.1:${workers[i].port}/metrics`)).text();
  const scrapeApi = async (origin: string) => (await api.call('GET', '/metrics', { key: 'viewer', origin })).text;
  const startWorker = async (i: number) => {
    workers[i].process = await WorkerProcess.start({ ...api.h.env, WORKER_HEALTH_PORT: String(workers[i].port) });
  };
  const logged = async (waveId?: string) => {
    const [row] = await api.h.db.dataSource.query<{ calls: string; items: string | null }[]>(
      `SELECT count(*) AS calls, sum(items) AS items FROM mailstore_calls ${waveId ? 'WHERE wave_id = $1' : ''}`,
      waveId ? [waveId] : [],
    );
    return { calls: Number(row.calls), items: Number(row.items ?? 0) };
  };
  const runWave = async (name: string, first: number, count: number) => {
    const logins = Array.from({ length: count }, (_, i) => `user${first + i}@example.test`);
    const wave = await api.h.commands.create(
      { name, selector: { type: 'logins', logins }, protocols: ['imap'], ratePerSecond: 1000, batchSize: 10 },
      'ops:test',
    );
    await api.h.commands.start(wave.id, 'ops:test');
    await api.h.untilWaveState(wave.id, 'completed');
    await api.h.waitAtRest(wave.id);
    return wave.id;
  };
  /** A route's answers as the APIs counted them (the route label is Nest's template, with the global prefix). */
  const requests = (text: string) => sumOf(text, REQUESTS, { method: 'GET', route: '/api/v1/waves', status: '200' });

  beforeAll(async () => {
    api = await startApiHarness('addup', { accounts: 300 });
    await api.h.importPopulation({ count: 300, seed: 21, leakedShare: 0 });
    apiB = await api.startAnotherApi();
    for (let i = 0; i < 2; i++) workers.push({ port: await freeLoopbackPort() });
    await Promise.all([startWorker(0), startWorker(1)]);
  });
  afterAll(async () => {
    for (const w of workers) await w.process?.kill();
    await api?.close();
  });

  it('sum over the workers of their mailstore calls is the log of calls, once; the APIs export none', async () => {
    // A failure or two among the answers too: every outcome is counted where it was observed.
    api.h.sim.setFaults({ script: ['503', '429'], retryAfterSeconds: 1, endpoints: ['batch'] });
    await runWave('first', 1, 200);
    const log = await logged();
    expect(log.calls).toBeGreaterThan(20); // 200 accounts by 10, and the two refused calls
    const [w0, w1] = await Promise.all([scrapeWorker(0), scrapeWorker(1)]);
    expect(sumOf(w0, CALLS) + sumOf(w1, CALLS)).toBe(log.calls);
    expect(sumOf(w0, CALLS, { outcome: 'rate_limited' }) + sumOf(w1, CALLS, { outcome: 'rate_limited' })).toBe(1);
    const sent = { result: 'sent' };
    const items = sumOf(w0, 'reopen_mailstore_call_items_total', sent);
    expect(items + sumOf(w1, 'reopen_mailstore_call_items_total', sent)).toBe(log.items);

    for (const origin of [api.api.origin, apiB.origin]) {
      expect(await scrapeApi(origin)).not.toMatch(/^reopen_mailstore_call/m);
    }
  });

  it('sum over the APIs of their requests and login events is what was sent, each counted once', async () => {
    const before = requests(await scrapeApi(api.api.origin)) + requests(await scrapeApi(apiB.origin));
    for (let i = 0; i < 3; i++) expect((await api.call('GET', '/waves', { key: 'viewer' })).status).toBe(200);
    for (let i = 0; i < 2; i++) {
      expect((await api.call('GET', '/waves', { key: 'viewer', origin: apiB.origin })).status).toBe(200);
    }
    const events = (n: number) => Array.from({ length: n }, () => ({ event: 'auth_request_finished', fields: {} }));
    const post = (origin: string, n: number) =>
      api.call('POST', '/login-events', { key: 'signals', origin, body: events(n) });
    expect((await post(api.api.origin, 3)).status).toBe(202);
    expect((await post(apiB.origin, 4)).status).toBe(202);

    const [a, b] = await Promise.all([scrapeApi(api.api.origin), scrapeApi(apiB.origin)]);
    expect(requests(a) + requests(b) - before).toBe(5);
    expect(requests(b)).toBeGreaterThanOrEqual(2);
    expect(sumOf(a, LOGIN_EVENTS) + sumOf(b, LOGIN_EVENTS)).toBe(7);
  });

  it('a restarted process starts from 0: no history replayed, and later calls counted once', async () => {
    const history = await logged();
    const keptBy1 = sumOf(await scrapeWorker(1), CALLS);
    await workers[0].process!.kill();
    await startWorker(0);
    expect(sumOf(await scrapeWorker(0), CALLS)).toBe(0); // mailstore_calls holds history; the new process saw none

    await apiB.stop();
    apiB = await api.startAnotherApi();
    const fresh = await scrapeApi(apiB.origin);
    expect(requests(fresh)).toBe(0);
    expect(sumOf(fresh, LOGIN_EVENTS)).toBe(0);

    api.h.sim.setFaults({});
    const second = await runWave('second', 201, 100);
    const [w0, w1] = await Promise.all([scrapeWorker(0), scrapeWorker(1)]);
    const newCalls = (await logged()).calls - history.calls;
    expect(newCalls).toBe((await logged(second)).calls);
    expect(sumOf(w0, CALLS) + sumOf(w1, CALLS) - keptBy1).toBe(newCalls);
  });
});
