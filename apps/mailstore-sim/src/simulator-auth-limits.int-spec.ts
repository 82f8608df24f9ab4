import { pollUntil } from '@app/testing';
import { accountPath, item, newKey } from './testing/sim-http.helper';
import { login, problem, problemOf, startTestSim, type SimFixture } from './testing/sim-fixture.helper';

describe('simulator: bearer tokens and scopes', () => {
  let f: SimFixture;

  beforeAll(async () => {
    f = await startTestSim({
      tokens: {
        'sim-token': ['access:read', 'access:write', 'sessions:revoke'],
        reader: ['access:read'],
        writer: ['access:write'],
        revoker: ['sessions:revoke'],
      },
    });
  });
  afterAll(() => f.close());

  it.each([
    ['no Authorization header', null, 'Bearer realm="mailstore-sim"'],
    ['an unknown token', 'stolen', 'Bearer realm="mailstore-sim", error="invalid_token"'],
  ])('answers %s with 401 unauthorized and WWW-Authenticate, applying nothing', async (_label, token, www) => {
    const res = await f.http.patch(login(1), { protocols: { imap: true } }, { token });
    expect(problemOf(res)).toEqual(problem(401, 'unauthorized'));
    expect(res.headers['www-authenticate']).toBe(www);
    expect(f.sim.account(login(1))?.version).toBe(1);
  });

  it('refuses a non-Bearer scheme', async () => {
    const res = await f.http.capabilities({ token: null, headers: { authorization: 'Basic c2ltOnRva2Vu' } });
    expect(problemOf(res)).toEqual(problem(401, 'unauthorized'));
  });

  it('authenticates before routing: an unknown path without a token is a 401', async () => {
    expect(problemOf(await f.http.call('GET', '/nowhere', { token: null }))).toEqual(problem(401, 'unauthorized'));
  });

  it.each([
    ['reader', 'PATCH', accountPath(login(2)), 'access:write'],
    ['reader', 'POST', '/access/batch', 'access:write'],
    ['reader', 'DELETE', accountPath(login(2), 'sessions'), 'sessions:revoke'],
    ['writer', 'GET', accountPath(login(2)), 'access:read'],
    ['writer', 'GET', '/capabilities', 'access:read'],
    ['revoker', 'PATCH', accountPath(login(2)), 'access:write'],
  ])('refuses %s on %s %s with 403 forbidden (needs %s)', async (token, method, path, scope) => {
    const body = method === 'POST' ? { items: [item(login(2), { imap: true })] } : { protocols: { imap: true } };
    const res = await f.http.call(method, path, {
      token,
      body: method === 'GET' || method === 'DELETE' ? undefined : body,
      idempotencyKey: newKey(),
    });
    expect(problemOf(res)).toEqual(problem(403, 'forbidden'));
    expect(res.headers['www-authenticate']).toContain(`error="insufficient_scope", scope="${scope}"`);
    expect(f.sim.account(login(2))?.version).toBe(1);
  });

  it('lets each scope do its own job', async () => {
    expect((await f.http.get(login(3), { token: 'reader' })).status).toBe(200);
    expect((await f.http.patch(login(3), { protocols: { imap: true } }, { token: 'writer' })).status).toBe(200);
    expect((await f.http.revoke(login(3), { token: 'revoker' })).status).toBe(200);
  });
});

describe('simulator: rate limits', () => {
  it('limits requests per token: 429 rate_limited with an integer Retry-After, informative headers, nothing applied', async () => {
    // 0.1 request/s: once the burst is spent, no token comes back during the test however slow the machine.
    const f = await startTestSim({
      rateLimits: { requestsPerSecond: 0.1, requestBurst: 3, accountUpdatesPerSecond: 1000, accountUpdateBurst: 1000 },
      tokens: { 'sim-token': ['access:read', 'access:write'], other: ['access:read'] },
    });
    try {
      for (let i = 0; i < 3; i++) expect((await f.http.capabilities()).status).toBe(200);
      const limited = await f.http.patch(login(1), { protocols: { imap: true } });
      expect(problemOf(limited)).toEqual(problem(429, 'rate_limited'));
      expect(limited.headers['retry-after']).toMatch(/^[1-9]\d*$/);
      expect(limited.body).toMatchObject({
        retryAfterSeconds: Number(limited.headers['retry-after']),
        limit: 'requests',
      });
      expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(9);
      expect(limited.headers['ratelimit-policy']).toBe('"requests";q=3;w=30, "account-updates";q=1000;w=1');
      expect(limited.headers.ratelimit).toMatch(/^"requests";r=0;t=\d+, "account-updates";r=1000;t=0$/);
      expect(f.sim.account(login(1))?.version).toBe(1);
      expect((await f.http.capabilities({ token: 'other' })).status).toBe(200); // its own budget
      expect(f.sim.counters().rateLimited).toBe(1);
    } finally {
      await f.close();
    }
  });

  it('charges a batch of N as N account updates and refuses beyond the budget with limit account-updates', async () => {
    const f = await startTestSim({
      // 6 updates in the burst, 1/s after: the second batch of 6 cannot fit for 6 s, however slow the machine.
      rateLimits: { requestsPerSecond: 1000, requestBurst: 1000, accountUpdatesPerSecond: 1, accountUpdateBurst: 6 },
    });
    try {
      const six = Array.from({ length: 6 }, (_, i) => item(login(i + 1), { imap: true }));
      expect((await f.http.batch(six)).body.summary.applied).toBe(6);
      const key = newKey();
      const more = Array.from({ length: 6 }, (_, i) => item(login(i + 10), { imap: true }));
      const limited = await f.http.batch(more, {}, { idempotencyKey: key });
      expect(problemOf(limited)).toEqual(problem(429, 'rate_limited'));
      expect(limited.body.limit).toBe('account-updates');
      expect(limited.headers['retry-after']).toMatch(/^[1-9]\d*$/);
      expect(f.sim.account(login(10))?.version).toBe(1);
      expect((await f.http.get(login(10))).status).toBe(200); // reads cost no updates
      // The 429 was not stored: once the budget refills, the same key runs the batch for real.
      const retried = await pollUntil(
        async () => {
          const res = await f.http.batch(more, {}, { idempotencyKey: key });
          return res.status === 200 ? res : false;
        },
        { timeoutMs: 20_000, intervalMs: 250, description: 'update budget refilled' },
      );
      expect(retried.headers['idempotent-replayed']).toBeUndefined();
      expect(retried.body.summary.applied).toBe(6);
    } finally {
      await f.close();
    }
  });

  it('advertises the configured limits, and the contract example by default', async () => {
    const f = await startTestSim({ rateLimits: undefined });
    try {
      expect((await f.http.capabilities()).body.rateLimits).toEqual({
        requestsPerSecond: 20,
        requestBurst: 40,
        accountUpdatesPerSecond: 200,
        accountUpdateBurst: 500,
      });
    } finally {
      await f.close();
    }
  });
});
