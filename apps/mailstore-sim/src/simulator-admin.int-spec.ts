import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { item, newKey } from './testing/sim-http.helper';
import { login, pluck, problem, problemOf, startTestSim, type SimFixture } from './testing/sim-fixture.helper';

const sessionsPath = (account: string): string => `/accounts/${encodeURIComponent(account)}/sessions`;

describe('simulator: admin API (/_sim)', () => {
  let f: SimFixture;

  beforeAll(async () => {
    f = await startTestSim({ accounts: 30, faults: { latencyMs: 1 } });
  });
  afterAll(() => f.close());

  describe('faults', () => {
    afterEach(() => f.sim.setFaults({}));

    it('shows the start-time faults, replaces them with PUT and merges with PATCH (null removes)', async () => {
      expect((await f.http.admin('GET', '/faults')).body).toEqual({ latencyMs: 1 }); // from the start options
      const put = await f.http.admin('PUT', '/faults', { rate503: 0.5, seed: 1, script: ['429', 'ok'] });
      expect(put.body).toEqual({ rate503: 0.5, seed: 1, script: ['429', 'ok'] });
      const patch = await f.http.admin('PATCH', '/faults', { rate503: null, hangMs: 10 });
      expect(patch.body).toEqual({ seed: 1, script: ['429', 'ok'], hangMs: 10 });
      await f.http.get(login(1)); // consumes '429'
      expect((await f.http.admin('GET', '/faults')).body.script).toEqual(['ok']);
    });

    it.each([
      ['PUT', { rate503: 2 }],
      ['PUT', { rate5O3: 0.1 }],
      ['PATCH', { script: ['teapot'] }],
      ['PUT', 'not json'],
    ])('refuses a bad %s (%j) with 400 invalid_request and keeps the old faults', async (method, body) => {
      f.sim.setFaults({ rate500: 0.1 });
      const res =
        typeof body === 'string'
          ? await rawAdmin(method, '/faults', body)
          : await f.http.admin(method, '/faults', body);
      expect(problemOf(res)).toEqual(problem(400, 'invalid_request'));
      expect((await f.http.admin('GET', '/faults')).body).toEqual({ rate500: 0.1 });
    });

    it('answers other methods with 405', async () => {
      expect(problemOf(await f.http.admin('DELETE', '/faults'))).toEqual(problem(405, 'method_not_allowed'));
    });
  });

  describe('rate limits', () => {
    afterEach(async () => {
      await f.http.admin('PUT', '/rate-limits', { rateLimits: 'none' });
    });

    it('announces new limits at runtime in capabilities and enforces them; refuses a bad one with 400', async () => {
      const put = await f.http.admin('PUT', '/rate-limits', {
        rateLimits: { accountUpdatesPerSecond: 5, accountUpdateBurst: 2 },
      });
      expect(put.status).toBe(200);
      expect(put.body.rateLimits).toMatchObject({ accountUpdatesPerSecond: 5, accountUpdateBurst: 2 });
      expect((await f.http.capabilities()).body.rateLimits).toEqual({
        requestsPerSecond: 20,
        requestBurst: 40,
        accountUpdatesPerSecond: 5,
        accountUpdateBurst: 2,
      });
      expect((await f.http.admin('GET', '/rate-limits')).body).toEqual(put.body);
      const bad = await f.http.admin('PUT', '/rate-limits', { rateLimits: { accountUpdatesPerSecond: -1 } });
      expect(bad.status).toBe(400);
      expect((await f.http.capabilities()).body.rateLimits.accountUpdatesPerSecond).toBe(5);
      f.sim.setRateLimits('none');
      expect((await f.http.capabilities()).body.rateLimits.accountUpdatesPerSecond).toBe(1_000_000);
    });
  });

  describe('accounts', () => {
    it('shows an account as the mailstore holds it', async () => {
      await f.http.patch(login(2), { protocols: { pop3: true } });
      const res = await f.http.admin('GET', `/accounts/${encodeURIComponent(login(2))}`);
      expect(res.body).toEqual({
        account: login(2),
        protocols: { imap: false, pop3: true },
        version: 2,
        updatedAt: expect.any(String),
        sessions: 0,
      });
      expect(problemOf(await f.http.admin('GET', '/accounts/nobody%40example.test'))).toEqual(
        problem(404, 'account_not_found'),
      );
    });

    it('adds accounts, all off at version 1, usable at once', async () => {
      const res = await f.http.admin('POST', '/accounts', {
        accounts: ['new1@example.test', 'new2@example.test', login(1)],
      });
      expect(res.body).toEqual({ added: 2, total: 32 });
      expect((await f.http.get('new2@example.test')).body).toMatchObject({
        version: 1,
        protocols: { imap: false, pop3: false },
      });
    });

    it('refuses bad account lists', async () => {
      expect(problemOf(await f.http.admin('POST', '/accounts', { accounts: 'x@y' }))).toEqual(
        problem(400, 'invalid_request'),
      );
      expect(problemOf(await f.http.admin('POST', '/accounts', { accounts: ['ok@x', ' bad'] }))).toEqual(
        problem(400, 'invalid_request'),
      );
      expect(f.sim.account('ok@x')).toBeUndefined(); // all or nothing
    });

    it('sets live sessions', async () => {
      const res = await f.http.admin('POST', sessionsPath(login(3)), { count: 4 });
      expect(res.body.sessions).toBe(4);
      expect(f.sim.account(login(3))?.sessions).toBe(4);
      expect(problemOf(await f.http.admin('POST', sessionsPath(login(3)), { count: -1 }))).toEqual(
        problem(400, 'invalid_request'),
      );
      expect(problemOf(await f.http.admin('POST', sessionsPath('nobody@x'), { count: 1 }))).toEqual(
        problem(404, 'account_not_found'),
      );
      expect(problemOf(await f.http.admin('GET', sessionsPath(login(3))))).toEqual(problem(405, 'method_not_allowed'));
    });
  });

  describe('call log', () => {
    it('records every /v1 call with what tests need to check ordering and effects', async () => {
      const { body: before } = await f.http.admin('GET', '/calls?limit=1');
      const since = before.lastSeq as number;
      const key = newKey();
      await f.http.batch(
        [item(login(4), { imap: true }), item('ghost@example.test', { imap: true })],
        {},
        {
          idempotencyKey: key,
          headers: { 'x-request-id': 'req-7' },
        },
      );
      await f.http.get(login(4), { token: 'wrong' });
      const { body } = await f.http.admin('GET', `/calls?since=${since}`);
      expect(body.calls).toEqual([
        {
          seq: since + 1,
          startedAt: expect.any(Number),
          endedAt: expect.any(Number),
          method: 'POST',
          endpoint: 'batch',
          path: '/v1/access/batch',
          accounts: [login(4), 'ghost@example.test'],
          idempotencyKey: key,
          requestId: 'req-7',
          status: 200,
          outcome: 'ok',
          applied: [login(4)],
        },
        expect.objectContaining({
          seq: since + 2,
          endpoint: 'get',
          status: 401,
          outcome: 'unauthorized',
          accounts: [],
        }),
      ]);
      const [batch, get] = body.calls;
      expect(batch.endedAt).toBeGreaterThanOrEqual(batch.startedAt);
      expect(get.startedAt).toBeGreaterThanOrEqual(batch.startedAt);
      expect(body.lastSeq).toBe(since + 2);
    });

    it('pages with since and limit, and clears without reusing numbers', async () => {
      for (let i = 0; i < 3; i++) await f.http.capabilities();
      const { body: all } = await f.http.admin('GET', '/calls');
      const last = all.lastSeq as number;
      const page = (await f.http.admin('GET', `/calls?since=${last - 3}&limit=2`)).body.calls;
      expect(pluck(page, 'seq')).toEqual([last - 2, last - 1]);
      expect((await f.http.admin('DELETE', '/calls')).body).toEqual({ cleared: true, lastSeq: last });
      expect((await f.http.admin('GET', '/calls')).body.calls).toEqual([]);
      await f.http.capabilities();
      expect(pluck((await f.http.admin('GET', '/calls')).body.calls, 'seq')).toEqual([last + 1]);
      expect(problemOf(await f.http.admin('GET', '/calls?since=-1'))).toEqual(problem(400, 'invalid_request'));
    });
  });

  it('counts requests by endpoint and status, and item outcomes', async () => {
    await f.http.admin('POST', '/reset');
    await f.http.batch([item(login(20), { imap: true }), item(login(20), { imap: true }), item('x@y', { imap: true })]);
    await f.http.patch(login(21), { protocols: { imap: false } });
    await f.http.get('nobody@example.test');
    expect((await f.http.admin('GET', '/counters')).body).toEqual({
      requests: { batch: { '200': 1 }, patch: { '200': 1 }, get: { '404': 1 } },
      accountUpdates: 4,
      applied: 1,
      unchanged: 1,
      itemFailures: 2,
      rateLimited: 0,
      replayed: 0,
      sessionsRevoked: 0,
      faults: { '429': 0, '503': 0, '500': 0, hang: 0, drop_after_apply: 0, unreachable: 0 },
    });
  });

  it('resets call log, counters, idempotency keys and faults, keeping accounts', async () => {
    const key = newKey();
    await f.http.patch(login(22), { protocols: { imap: true } }, { idempotencyKey: key });
    f.sim.setFaults({ rate500: 0.01 });
    const res = await f.http.admin('POST', '/reset');
    expect(res.body).toMatchObject({ reset: true, accounts: 32 });
    expect((await f.http.admin('GET', '/calls')).body.calls).toEqual([]);
    expect((await f.http.admin('GET', '/faults')).body).toEqual({});
    expect(f.sim.counters().requests).toEqual({});
    const again = await f.http.patch(login(22), { protocols: { imap: true } }, { idempotencyKey: key });
    expect(again.headers['idempotent-replayed']).toBeUndefined();
    expect(again.body).toMatchObject({ changed: false, version: 2 });
  });

  it('reseeds accounts when the reset says so', async () => {
    const g = await startTestSim({ accounts: 3 });
    try {
      await g.http.patch(login(1), { protocols: { imap: true } });
      const res = await g.http.admin('POST', '/reset', { accounts: ['only@example.test'] });
      expect(res.body.accounts).toBe(1);
      expect(g.sim.account(login(1))).toBeUndefined();
      expect((await g.http.get('only@example.test')).body.version).toBe(1);
      await g.http.admin('POST', '/reset', { accounts: 2 });
      expect(g.sim.account(login(1))).toMatchObject({ version: 1, protocols: { imap: false } });
      expect(problemOf(await g.http.admin('POST', '/reset', { accounts: 'all' }))).toEqual(
        problem(400, 'invalid_request'),
      );
    } finally {
      await g.close();
    }
  });

  it('reports memory and sizes', async () => {
    const { body } = await f.http.admin('GET', '/stats');
    expect(body).toEqual({
      accounts: 32,
      idempotencyKeys: expect.any(Number),
      lastSeq: expect.any(Number),
      rssMb: expect.any(Number),
      heapUsedMb: expect.any(Number),
      cpuMs: expect.any(Number),
    });
  });

  it('answers unknown admin paths and non-API paths with 404', async () => {
    expect(problemOf(await f.http.admin('GET', '/nope'))).toEqual(problem(404, 'not_found'));
    const res = await request(f.http.baseUrl.replace(/\/v1$/, '/'), {});
    expect(res.statusCode).toBe(404);
    await res.body.dump();
  });

  async function rawAdmin(method: string, path: string, body: string) {
    const res = await request(f.http.adminUrl + path, {
      method: method as 'PUT',
      body,
      headers: { 'content-type': 'application/json' },
    });
    const text = await res.body.text();
    return { status: res.statusCode, headers: res.headers as Record<string, string>, body: JSON.parse(text), text };
  }
});

describe('simulator: options', () => {
  it('seeds accounts from a CSV file in the import format', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'sim-csv-')), 'accounts.csv');
    writeFileSync(
      path,
      'login,cohorts,leaked,password_changed_at\ndoc@clinic.test,health,true,2026-05-03T10:00:00Z\npat@home.test,general,false,\n',
    );
    const f = await startTestSim({ accounts: undefined, accountsCsv: path });
    try {
      expect((await f.http.admin('GET', '/stats')).body.accounts).toBe(2);
      expect((await f.http.get('doc@clinic.test')).body).toMatchObject({
        version: 1,
        protocols: { imap: false, pop3: false },
      });
    } finally {
      await f.close();
    }
  });

  it('keeps only callLogCapacity calls', async () => {
    const f = await startTestSim({ callLogCapacity: 3 });
    try {
      for (let i = 0; i < 5; i++) await f.http.get(login(i + 1));
      expect(f.sim.calls().map((c) => c.accounts[0])).toEqual([login(3), login(4), login(5)]);
    } finally {
      await f.close();
    }
  });

  it('refuses nonsense options at start', async () => {
    await expect(startTestSim({ maxBatchItems: 0 })).rejects.toThrow(/maxBatchItems/);
    await expect(startTestSim({ tokens: { t: ['root'] } })).rejects.toThrow(/unknown scope/);
    await expect(startTestSim({ rateLimits: { requestsPerSecond: -1 } as never })).rejects.toThrow(/rateLimits/);
    await expect(startTestSim({ faults: { rate503: 3 } })).rejects.toThrow(/rate503/);
  });
});
