import { accountPath } from './testing/sim-http.helper';
import { login, problem, problemOf, startTestSim, type SimFixture } from './testing/sim-fixture.helper';

describe('simulator: capabilities, GET, PATCH, DELETE sessions', () => {
  let f: SimFixture;

  beforeAll(async () => {
    f = await startTestSim({
      propagation: { mode: 'eventual', maxSeconds: 300 },
      maxBatchItems: 50,
      accounts: [
        ...Array.from({ length: 20 }, (_, i) => login(i + 1)),
        'a/b@example.test',
        'dr.émile@clinique.example',
      ],
    });
  });
  afterAll(() => f.close());

  describe('GET /v1/capabilities', () => {
    it('advertises the configured values in the contract shape', async () => {
      const res = await f.http.capabilities();
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe('application/json');
      expect(res.body).toEqual({
        protocols: ['imap', 'pop3'],
        maxBatchItems: 50,
        revokeSessions: true,
        conditionalUpdates: true,
        idempotencyKeyTtlSeconds: 86400,
        propagation: { mode: 'eventual', maxSeconds: 300 },
        rateLimits: {
          requestsPerSecond: 1_000_000,
          requestBurst: 1_000_000,
          accountUpdatesPerSecond: 1_000_000,
          accountUpdateBurst: 1_000_000,
        },
      });
    });
  });

  describe('GET access', () => {
    it('answers AccessState with a strong ETag of the version, every protocol off after the incident', async () => {
      const res = await f.http.get(login(1));
      expect(res.status).toBe(200);
      expect(res.headers.etag).toBe('"1"');
      expect(res.body).toEqual({
        account: login(1),
        protocols: { imap: false, pop3: false },
        version: 1,
        updatedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      });
    });

    it('decodes URL-encoded accounts, slashes and non-ASCII included', async () => {
      expect((await f.http.get('a/b@example.test')).body.account).toBe('a/b@example.test');
      expect((await f.http.get('dr.émile@clinique.example')).status).toBe(200);
    });

    it('answers 404 account_not_found for an unknown account', async () => {
      expect(problemOf(await f.http.get('nobody@example.test'))).toEqual(problem(404, 'account_not_found'));
    });

    it('refuses a malformed account in the path with 400 invalid_account', async () => {
      expect(problemOf(await f.http.call('GET', '/accounts/%E0%A4%A/access'))).toEqual(problem(400, 'invalid_account'));
      expect(problemOf(await f.http.call('GET', '/accounts/%20x%40y/access'))).toEqual(problem(400, 'invalid_account'));
    });

    it('echoes X-Request-Id', async () => {
      const res = await f.http.get(login(1), { headers: { 'x-request-id': 'req-42' } });
      expect(res.headers['x-request-id']).toBe('req-42');
    });
  });

  describe('PATCH access', () => {
    it('sets the desired state, touches only the protocols sent and bumps the version once', async () => {
      const first = await f.http.patch(login(2), { protocols: { imap: true }, reason: 'wave-1' });
      expect(first.status).toBe(200);
      expect(first.headers.etag).toBe('"2"');
      expect(first.body).toEqual({
        account: login(2),
        protocols: { imap: true, pop3: false },
        version: 2,
        updatedAt: expect.any(String),
        changed: true,
      });
      const second = await f.http.patch(login(2), { protocols: { pop3: true } });
      expect(second.body).toMatchObject({ protocols: { imap: true, pop3: true }, version: 3, changed: true });
      expect((await f.http.get(login(2))).body).toMatchObject({ protocols: { imap: true, pop3: true }, version: 3 });
    });

    it('answers an unchanged desired state as success without bumping the version', async () => {
      await f.http.patch(login(3), { protocols: { imap: true } });
      const before = (await f.http.get(login(3))).body;
      const res = await f.http.patch(login(3), { protocols: { imap: true } });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ ...before, changed: false });
      expect(res.headers.etag).toBe(`"${before.version}"`);
    });

    it('honours If-Match: applies on a match, 412 version_mismatch with currentVersion otherwise', async () => {
      const ok = await f.http.patch(login(4), { protocols: { imap: true } }, { headers: { 'if-match': '"1"' } });
      expect(ok.body).toMatchObject({ version: 2, changed: true });
      const stale = await f.http.patch(login(4), { protocols: { imap: false } }, { headers: { 'if-match': '"1"' } });
      expect(problemOf(stale)).toEqual(problem(412, 'version_mismatch'));
      expect(stale.body.currentVersion).toBe(2);
      expect(stale.headers.etag).toBe('"2"');
      expect((await f.http.get(login(4))).body.protocols.imap).toBe(true);
    });

    it('accepts If-Match lists and *, never matches weak tags, refuses garbage', async () => {
      const list = await f.http.patch(login(5), { protocols: { pop3: true } }, { headers: { 'if-match': '"9", "1"' } });
      expect(list.body.version).toBe(2);
      const star = await f.http.patch(login(5), { protocols: { pop3: false } }, { headers: { 'if-match': '*' } });
      expect(star.body.version).toBe(3);
      const weak = await f.http.patch(login(5), { protocols: { pop3: true } }, { headers: { 'if-match': 'W/"3"' } });
      expect(problemOf(weak)).toEqual(problem(412, 'version_mismatch'));
      const junk = await f.http.patch(login(5), { protocols: { pop3: true } }, { headers: { 'if-match': '3' } });
      expect(problemOf(junk)).toEqual(problem(400, 'invalid_if_match'));
    });

    it('revokes sessions only when a protocol goes from on to off, and says so', async () => {
      await f.http.patch(login(6), { protocols: { imap: true, pop3: true } });
      await f.http.admin('POST', `/accounts/${encodeURIComponent(login(6))}/sessions`, { count: 3 });
      const noTransition = await f.http.patch(login(6), { protocols: { imap: true }, revokeSessions: true });
      expect(noTransition.body).toMatchObject({ changed: false, sessions: 'none' });
      expect(f.sim.account(login(6))?.sessions).toBe(3);
      const off = await f.http.patch(login(6), { protocols: { pop3: false }, revokeSessions: true });
      expect(off.body).toMatchObject({ changed: true, sessions: 'revoked', protocols: { imap: true, pop3: false } });
      expect(f.sim.account(login(6))?.sessions).toBe(0);
    });

    it('leaves out "sessions" when revokeSessions was not asked for, and keeps sessions', async () => {
      await f.http.patch(login(7), { protocols: { imap: true } });
      await f.http.admin('POST', `/accounts/${encodeURIComponent(login(7))}/sessions`, { count: 2 });
      const res = await f.http.patch(login(7), { protocols: { imap: false } });
      expect(res.body).not.toHaveProperty('sessions');
      expect(f.sim.account(login(7))?.sessions).toBe(2);
    });

    it('answers 404 account_not_found for an unknown account', async () => {
      expect(problemOf(await f.http.patch('nobody@example.test', { protocols: { imap: true } }))).toEqual(
        problem(404, 'account_not_found'),
      );
    });

    it.each([
      ['invalid_json', '{"protocols":', undefined],
      ['invalid_request', '[]', undefined],
      ['invalid_request', '{"protocols":{"imap":true}}', 'text/plain'],
      ['invalid_request', '{"protocols":{"imap":true},"extra":1}', undefined],
      ['invalid_request', '{"protocols":{"imap":true},"revokeSessions":"yes"}', undefined],
      ['invalid_request', '{"protocols":{"imap":true},"reason":7}', undefined],
      ['invalid_protocols', '{"reason":"x"}', undefined],
      ['invalid_protocols', '{"protocols":{}}', undefined],
      ['invalid_protocols', '{"protocols":{"imap":1}}', undefined],
      ['unsupported_protocol', '{"protocols":{"smtp":true}}', undefined],
    ])('refuses with 400 %s: %s', async (code, rawBody, contentType) => {
      const res = await f.http.call('PATCH', accountPath(login(8)), {
        rawBody,
        headers: { 'content-type': contentType ?? 'application/json' },
      });
      expect(problemOf(res)).toEqual(problem(400, code));
      expect(f.sim.account(login(8))?.version).toBe(1);
    });
  });

  describe('DELETE sessions', () => {
    it('revokes live sessions without touching access or version', async () => {
      await f.http.admin('POST', `/accounts/${encodeURIComponent(login(9))}/sessions`, { count: 4 });
      const res = await f.http.revoke(login(9));
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ account: login(9), sessions: 'revoked' });
      expect(f.sim.account(login(9))).toMatchObject({ sessions: 0, version: 1 });
      expect((await f.http.revoke(login(9))).body).toEqual({ account: login(9), sessions: 'none' });
    });

    it('answers 404 for an unknown account', async () => {
      expect(problemOf(await f.http.revoke('nobody@example.test'))).toEqual(problem(404, 'account_not_found'));
    });
  });

  describe('routing', () => {
    it.each([
      ['POST', '/capabilities', 'GET'],
      ['PUT', accountPath(login(1)), 'GET, PATCH'],
      ['GET', '/access/batch', 'POST'],
      ['GET', accountPath(login(1), 'sessions'), 'DELETE'],
    ])('answers %s %s with 405 method_not_allowed and Allow: %s', async (method, path, allow) => {
      const res = await f.http.call(method, path);
      expect(problemOf(res)).toEqual(problem(405, 'method_not_allowed'));
      expect(res.headers.allow).toBe(allow);
    });

    it('answers unknown paths with 404 not_found', async () => {
      expect(problemOf(await f.http.call('GET', '/accounts'))).toEqual(problem(404, 'not_found'));
      expect(problemOf(await f.http.call('GET', '/capabilities/'))).toEqual(problem(404, 'not_found'));
    });
  });
});
