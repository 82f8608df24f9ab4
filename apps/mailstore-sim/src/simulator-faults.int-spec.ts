import { pollUntil } from '@app/testing';
import type { CallLogEntry } from './sim.types';
import { item, newKey, type HttpResult } from './testing/sim-http.helper';
import { login, pluck, problem, problemOf, startTestSim, type SimFixture } from './testing/sim-fixture.helper';

/** The request got no HTTP answer at all (connection destroyed). */
async function expectNoAnswer(pending: Promise<HttpResult>): Promise<void> {
  await expect(pending).rejects.toThrow(/closed|socket|reset|hang up|terminated/i);
}

describe('simulator: fault injection', () => {
  let f: SimFixture;

  beforeAll(async () => {
    f = await startTestSim({ accounts: 60 });
  });
  afterAll(() => f.close());
  afterEach(() => f.sim.setFaults({}));

  const callsFor = (key: string): CallLogEntry[] => f.sim.calls().filter((c) => c.idempotencyKey === key);

  it('injects 503 unavailable with the configured Retry-After, applying nothing', async () => {
    f.sim.setFaults({ script: ['503'], retryAfterSeconds: 7 });
    const key = newKey();
    const res = await f.http.batch([item(login(1), { imap: true })], {}, { idempotencyKey: key });
    expect(problemOf(res)).toEqual(problem(503, 'unavailable'));
    expect(res.headers['retry-after']).toBe('7');
    expect(res.body.retryAfterSeconds).toBe(7);
    expect(f.sim.account(login(1))?.version).toBe(1);
    expect(callsFor(key)).toEqual([expect.objectContaining({ status: 503, outcome: 'unavailable', applied: [] })]);
    expect(f.sim.counters().faults['503']).toBe(1);
  });

  it('injects 429 rate_limited with Retry-After and limit, applying nothing', async () => {
    f.sim.setFaults({ script: ['429'] });
    const res = await f.http.patch(login(2), { protocols: { imap: true } });
    expect(problemOf(res)).toEqual(problem(429, 'rate_limited'));
    expect(res.headers['retry-after']).toBe('1');
    expect(res.body).toMatchObject({ retryAfterSeconds: 1, limit: 'requests' });
    expect(f.sim.account(login(2))?.version).toBe(1);
  });

  it('injects 500 internal, applying nothing', async () => {
    f.sim.setFaults({ script: ['500'] });
    const res = await f.http.revoke(login(3));
    expect(problemOf(res)).toEqual(problem(500, 'internal'));
    expect(f.sim.calls().at(-1)).toMatchObject({ endpoint: 'sessions', status: 500, outcome: 'internal' });
  });

  it('hangs: no answer, the socket destroyed after hangMs, nothing applied, the key held meanwhile', async () => {
    // Long enough for the second request to arrive while it hangs, even on a busy machine.
    f.sim.setFaults({ script: ['hang'], hangMs: 1500 });
    const key = newKey();
    const items = [item(login(4), { imap: true })];
    const started = Date.now();
    const hanging = f.http.batch(items, {}, { idempotencyKey: key });
    await pollUntil(() => callsFor(key).some((c) => c.outcome === 'pending'), { description: 'hang started' });
    const meanwhile = await f.http.batch(items, {}, { idempotencyKey: key });
    expect(problemOf(meanwhile)).toEqual(problem(409, 'idempotency_in_progress'));
    await expectNoAnswer(hanging);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
    expect(f.sim.account(login(4))?.version).toBe(1);
    expect(callsFor(key)[0]).toMatchObject({ status: 0, outcome: 'hang', applied: [] });
    const retry = await f.http.batch(items, {}, { idempotencyKey: key });
    expect(retry.status).toBe(200);
    expect(retry.headers['idempotent-replayed']).toBeUndefined();
    expect(retry.body.summary.applied).toBe(1);
  });

  it('ends a hang as soon as the client gives up, releasing its key', async () => {
    f.sim.setFaults({ script: ['hang'], hangMs: 60_000 });
    const key = newKey();
    const abort = new AbortController();
    const hanging = f.http.patch(
      login(5),
      { protocols: { pop3: true } },
      { idempotencyKey: key, signal: abort.signal },
    );
    await pollUntil(() => callsFor(key).some((c) => c.outcome === 'pending'), { description: 'hang started' });
    abort.abort();
    await expect(hanging).rejects.toThrow();
    await pollUntil(() => callsFor(key).some((c) => c.outcome === 'hang'), { description: 'hang ended' });
    const retry = await f.http.patch(login(5), { protocols: { pop3: true } }, { idempotencyKey: key });
    expect(retry.body).toMatchObject({ changed: true, version: 2 });
  });

  it('still applies a slow request whose client gave up, as a gateway that does not notice would', async () => {
    f.sim.setFaults({ latencyMs: 2000, endpoints: ['patch'] }); // the client gives up well before
    const key = newKey();
    const abort = new AbortController();
    const gaveUp = f.http.patch(
      login(14),
      { protocols: { imap: true } },
      { idempotencyKey: key, signal: abort.signal },
    );
    await pollUntil(() => callsFor(key).some((c) => c.outcome === 'pending'), { description: 'request arrived' });
    abort.abort();
    await expect(gaveUp).rejects.toThrow();
    const [call] = await pollUntil(() => (callsFor(key)[0]?.endedAt ? callsFor(key) : undefined), {
      description: 'request ended',
    });
    expect(call).toMatchObject({ status: 0, outcome: 'client_closed', applied: [login(14)] });
    expect(f.sim.account(login(14))?.protocols.imap).toBe(true);
    const retry = await f.http.patch(login(14), { protocols: { imap: true } }, { idempotencyKey: key });
    expect(retry.headers['idempotent-replayed']).toBe('true');
  });

  it('drops the connection after applying: the change stands and a retry with the key replays the 200', async () => {
    f.sim.setFaults({ script: ['drop_after_apply'] });
    const key = newKey();
    const items = [item(login(6), { imap: true, pop3: true })];
    await expectNoAnswer(f.http.batch(items, {}, { idempotencyKey: key }));
    expect(f.sim.account(login(6))).toMatchObject({ protocols: { imap: true, pop3: true }, version: 2 });
    expect(callsFor(key)[0]).toMatchObject({ status: 0, outcome: 'dropped_after_apply', applied: [login(6)] });
    const retry = await f.http.batch(items, {}, { idempotencyKey: key });
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(retry.body.results[0]).toMatchObject({ status: 'applied', version: 2 });
    expect(f.sim.account(login(6))?.version).toBe(2);
  });

  it('makes /v1 unreachable while the admin API keeps answering', async () => {
    await f.http.admin('PATCH', '/faults', { unreachable: true });
    await expectNoAnswer(f.http.get(login(7)));
    expect((await f.http.admin('GET', '/faults')).body).toEqual({ unreachable: true });
    expect(f.sim.calls().at(-1)).toMatchObject({ status: 0, outcome: 'unreachable' });
    await f.http.admin('PATCH', '/faults', { unreachable: null });
    expect((await f.http.get(login(7))).status).toBe(200);
  });

  it('treats notFoundAccounts as unknown on every endpoint', async () => {
    const ghost = login(8);
    f.sim.setFaults({ notFoundAccounts: [ghost] });
    expect(problemOf(await f.http.get(ghost))).toEqual(problem(404, 'account_not_found'));
    expect(problemOf(await f.http.patch(ghost, { protocols: { imap: true } }))).toEqual(
      problem(404, 'account_not_found'),
    );
    expect(problemOf(await f.http.revoke(ghost))).toEqual(problem(404, 'account_not_found'));
    const batch = await f.http.batch([item(ghost, { imap: true }), item(login(9), { imap: true })]);
    expect(pluck(batch.body.results, 'status')).toEqual(['not_found', 'applied']);
    expect(f.sim.account(ghost)?.version).toBe(1);
  });

  it('makes conditional writes on conflictAccounts conflict, and leaves unconditional ones alone', async () => {
    const contested = login(10);
    f.sim.setFaults({ conflictAccounts: [contested] });
    const patch = await f.http.patch(contested, { protocols: { imap: true } }, { headers: { 'if-match': '"1"' } });
    expect(problemOf(patch)).toEqual(problem(412, 'version_mismatch'));
    expect(patch.body.currentVersion).toBe(1);
    const batch = await f.http.batch([item(contested, { imap: true }, 1)]);
    expect(batch.body.results[0]).toMatchObject({
      status: 'conflict',
      version: 1,
      error: { code: 'version_mismatch' },
    });
    expect(f.sim.account(contested)?.version).toBe(1);
    expect((await f.http.batch([item(contested, { imap: true })])).body.results[0].status).toBe('applied');
  });

  it('leaves capabilities alone by default and restricts faults to the configured endpoints', async () => {
    f.sim.setFaults({ script: ['503'] });
    expect((await f.http.capabilities()).status).toBe(200);
    expect((await f.http.get(login(11))).status).toBe(503);
    f.sim.setFaults({ rate503: 1, endpoints: ['batch'] });
    expect((await f.http.get(login(11))).status).toBe(200);
    expect((await f.http.batch([item(login(11), { imap: true })])).status).toBe(503);
  });

  it('adds latency to eligible requests', async () => {
    f.sim.setFaults({ latencyMs: 250, endpoints: ['get'] });
    const started = performance.now();
    expect((await f.http.get(login(12))).status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(240);
  });

  it('draws the same faults for the same seed', async () => {
    const statuses = async (seed: number): Promise<number[]> => {
      f.sim.setFaults({ rate503: 0.3, rate500: 0.2, seed });
      const out: number[] = [];
      for (let i = 0; i < 20; i++) out.push((await f.http.get(login(13))).status);
      return out;
    };
    const first = await statuses(99);
    expect(await statuses(99)).toEqual(first);
    expect(new Set(first)).toEqual(new Set([200, 500, 503]));
  });
});

describe('simulator: close()', () => {
  it('destroys hung requests at once so tests end promptly', async () => {
    const f = await startTestSim({ faults: { script: ['hang'], hangMs: 60_000 } });
    const hanging = f.http.get(login(1));
    await pollUntil(() => f.sim.calls().some((c) => c.outcome === 'pending'), { description: 'hang started' });
    const started = Date.now();
    await f.sim.close();
    await expectNoAnswer(hanging);
    expect(Date.now() - started).toBeLessThan(5_000);
    await f.http.close();
  });
});
