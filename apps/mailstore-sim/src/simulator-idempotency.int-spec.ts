import { pollUntil } from '@app/testing';
import { accountPath, item, newKey } from './testing/sim-http.helper';
import { login, problem, problemOf, startTestSim, type SimFixture } from './testing/sim-fixture.helper';

describe('simulator: Idempotency-Key', () => {
  let f: SimFixture;

  beforeAll(async () => {
    f = await startTestSim({
      accounts: 40,
      tokens: { 'sim-token': ['access:read', 'access:write', 'sessions:revoke'], other: ['access:write'] },
    });
  });
  afterAll(() => f.close());
  afterEach(() => f.sim.setFaults({}));

  it('replays a PATCH: the stored answer again, marked, and nothing applied a second time', async () => {
    const key = newKey();
    const first = await f.http.patch(login(1), { protocols: { imap: true } }, { idempotencyKey: key });
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    await f.http.patch(login(1), { protocols: { imap: false } }); // someone else changes it since
    const replay = await f.http.patch(login(1), { protocols: { imap: true } }, { idempotencyKey: key });
    expect(replay.status).toBe(200);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.headers.etag).toBe(first.headers.etag);
    expect(replay.text).toBe(first.text);
    expect(f.sim.account(login(1))).toMatchObject({ protocols: { imap: false }, version: 3 });
  });

  it('replays a batch byte for byte, batchId included, also when the body differs only in key order', async () => {
    const key = newKey();
    const first = await f.http.batch(
      [item(login(2), { imap: true, pop3: false })],
      { reason: 'wave-1' },
      { idempotencyKey: key },
    );
    const reordered =
      '{ "reason": "wave-1", "items": [ { "protocols": { "pop3": false, "imap": true }, "account": "user2@example.test" } ] }';
    const replay = await f.http.call('POST', '/access/batch', {
      rawBody: reordered,
      idempotencyKey: key,
      headers: { 'content-type': 'application/json' },
    });
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.text).toBe(first.text);
    const [firstCall, replayCall] = f.sim.calls().filter((c) => c.idempotencyKey === key);
    expect(firstCall).toMatchObject({ outcome: 'ok', applied: [login(2)] });
    expect(replayCall).toMatchObject({ outcome: 'replayed', status: 200, applied: [] });
    expect(f.sim.account(login(2))?.version).toBe(2);
  });

  it('refuses the same key for a different request with 422 idempotency_key_reused', async () => {
    const key = newKey();
    await f.http.patch(login(3), { protocols: { imap: true } }, { idempotencyKey: key });
    const otherBody = await f.http.patch(login(3), { protocols: { imap: false } }, { idempotencyKey: key });
    expect(problemOf(otherBody)).toEqual(problem(422, 'idempotency_key_reused'));
    const otherAccount = await f.http.patch(login(4), { protocols: { imap: true } }, { idempotencyKey: key });
    expect(problemOf(otherAccount)).toEqual(problem(422, 'idempotency_key_reused'));
    const otherMethod = await f.http.revoke(login(3), { idempotencyKey: key });
    expect(problemOf(otherMethod)).toEqual(problem(422, 'idempotency_key_reused'));
    expect(f.sim.account(login(3))?.protocols.imap).toBe(true);
    expect(f.sim.account(login(4))?.version).toBe(1);
  });

  it('keeps keys per credential', async () => {
    const key = newKey();
    await f.http.patch(login(5), { protocols: { imap: true } }, { idempotencyKey: key });
    const other = await f.http.patch(login(6), { protocols: { imap: true } }, { idempotencyKey: key, token: 'other' });
    expect(other.status).toBe(200);
    expect(other.headers['idempotent-replayed']).toBeUndefined();
    expect(f.sim.account(login(6))?.protocols.imap).toBe(true);
  });

  it('refuses a key over 255 characters with 400 invalid_idempotency_key and applies nothing', async () => {
    const tooLong = await f.http.patch(login(7), { protocols: { imap: true } }, { idempotencyKey: 'k'.repeat(256) });
    expect(problemOf(tooLong)).toEqual(problem(400, 'invalid_idempotency_key'));
    expect(f.sim.account(login(7))?.version).toBe(1);
    const longest = await f.http.patch(login(7), { protocols: { imap: true } }, { idempotencyKey: 'k'.repeat(255) });
    expect(longest.status).toBe(200);
  });

  it('answers 409 idempotency_in_progress with Retry-After while the first request runs', async () => {
    f.sim.setFaults({ latencyMs: 1500, endpoints: ['patch'] }); // room for the second request on a busy machine
    const key = newKey();
    const first = f.http.patch(login(8), { protocols: { pop3: true } }, { idempotencyKey: key });
    await pollUntil(() => f.sim.calls().some((c) => c.idempotencyKey === key && c.outcome === 'pending'), {
      description: 'first PATCH in progress',
    });
    const second = await f.http.patch(login(8), { protocols: { pop3: true } }, { idempotencyKey: key });
    expect(problemOf(second)).toEqual(problem(409, 'idempotency_in_progress'));
    expect(second.headers['retry-after']).toMatch(/^[1-9]\d*$/);
    expect((await first).status).toBe(200);
    const third = await f.http.patch(login(8), { protocols: { pop3: true } }, { idempotencyKey: key });
    expect(third.headers['idempotent-replayed']).toBe('true');
    expect(f.sim.account(login(8))?.version).toBe(2);
  });

  it.each([
    ['500', 500, 'internal', 20],
    ['503', 503, 'unavailable', 21],
    ['429', 429, 'rate_limited', 22],
  ] as const)(
    'never stores a %s: nothing applied, the retry with the same key runs afresh',
    async (fault, status, code, n) => {
      f.sim.setFaults({ script: [fault] });
      const key = newKey();
      const items = [item(login(n), { imap: true })];
      const failed = await f.http.batch(items, {}, { idempotencyKey: key });
      expect(problemOf(failed)).toEqual(problem(status, code));
      expect(f.sim.account(login(n))?.version).toBe(1);
      const retry = await f.http.batch(items, {}, { idempotencyKey: key });
      expect(retry.status).toBe(200);
      expect(retry.headers['idempotent-replayed']).toBeUndefined();
      expect(retry.body.results[0].status).toBe('applied');
      expect(f.sim.account(login(n))?.protocols.imap).toBe(true);
    },
  );

  it('stores executed failures (404) like successes', async () => {
    const key = newKey();
    const missing = 'later@example.test';
    expect((await f.http.patch(missing, { protocols: { imap: true } }, { idempotencyKey: key })).status).toBe(404);
    await f.http.admin('POST', '/accounts', { accounts: [missing] });
    const replay = await f.http.patch(missing, { protocols: { imap: true } }, { idempotencyKey: key });
    expect(problemOf(replay)).toEqual(problem(404, 'account_not_found'));
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(f.sim.account(missing)?.version).toBe(1);
  });

  it('replays DELETE sessions without revoking again', async () => {
    const key = newKey();
    const sessions = `/accounts/${encodeURIComponent(login(10))}/sessions`;
    await f.http.admin('POST', sessions, { count: 2 });
    expect((await f.http.revoke(login(10), { idempotencyKey: key })).body.sessions).toBe('revoked');
    await f.http.admin('POST', sessions, { count: 5 });
    const replay = await f.http.revoke(login(10), { idempotencyKey: key });
    expect(replay.body.sessions).toBe('revoked');
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(f.sim.account(login(10))?.sessions).toBe(5);
  });

  it('ignores Idempotency-Key on reads', async () => {
    const res = await f.http.call('GET', accountPath(login(11)), { idempotencyKey: 'k'.repeat(300) });
    expect(res.status).toBe(200);
  });
});

describe('simulator: idempotency TTL', () => {
  it('advertises the TTL and forgets keys after it', async () => {
    const f = await startTestSim({ idempotencyTtlSeconds: 1 });
    try {
      expect((await f.http.capabilities()).body.idempotencyKeyTtlSeconds).toBe(1);
      const key = newKey();
      await f.http.patch(login(1), { protocols: { imap: true } }, { idempotencyKey: key });
      const fresh = await pollUntil(
        async () => {
          const res = await f.http.patch(login(1), { protocols: { imap: true } }, { idempotencyKey: key });
          return res.headers['idempotent-replayed'] === undefined ? res : false;
        },
        { timeoutMs: 5_000, intervalMs: 100, description: 'key expired' },
      );
      expect(fresh.body.changed).toBe(false);
    } finally {
      await f.close();
    }
  });
});
