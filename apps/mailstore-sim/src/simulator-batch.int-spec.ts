import { item } from './testing/sim-http.helper';
import { login, pluck, problem, problemOf, startTestSim, type SimFixture } from './testing/sim-fixture.helper';

describe('simulator: POST /v1/access/batch', () => {
  let f: SimFixture;

  beforeAll(async () => {
    f = await startTestSim({ accounts: 60, maxBatchItems: 10 });
  });
  afterAll(() => f.close());

  it('answers each item on its own: applied, unchanged, not_found, conflict, invalid, in order', async () => {
    await f.http.patch(login(2), { protocols: { imap: true } }); // unchanged below; version 2
    const res = await f.http.batch([
      item(login(1), { imap: true, pop3: true }),
      item(login(2), { imap: true }),
      item('nobody@example.test', { imap: true }),
      item(login(3), { imap: true }, 5),
      { account: login(4), protocols: { smtp: true } },
    ]);
    expect(res.status).toBe(200);
    expect(res.body.batchId).toEqual(expect.any(String));
    expect(res.body.summary).toEqual({ applied: 1, unchanged: 1, failed: 3 });
    const [applied, unchanged, notFound, conflict, invalid] = res.body.results;
    expect(applied).toEqual({
      account: login(1),
      status: 'applied',
      protocols: { imap: true, pop3: true },
      previous: { imap: false, pop3: false },
      version: 2,
      updatedAt: expect.any(String),
    });
    expect(unchanged).toMatchObject({
      account: login(2),
      status: 'unchanged',
      protocols: { imap: true, pop3: false },
      previous: { imap: true, pop3: false },
      version: 2,
    });
    expect(notFound).toEqual({
      account: 'nobody@example.test',
      status: 'not_found',
      error: { code: 'account_not_found', detail: expect.any(String) },
    });
    expect(conflict).toMatchObject({
      account: login(3),
      status: 'conflict',
      version: 1,
      protocols: { imap: false, pop3: false },
      error: { code: 'version_mismatch' },
    });
    expect(invalid).toEqual({
      account: login(4),
      status: 'invalid',
      error: { code: 'unsupported_protocol', detail: expect.any(String) },
    });
    expect(f.sim.account(login(3))?.version).toBe(1);
    expect(f.sim.account(login(4))?.version).toBe(1);
  });

  it('applies an item whose ifVersion matches, and reports previous state for rollback', async () => {
    await f.http.batch([item(login(10), { imap: true, pop3: true })]);
    const res = await f.http.batch([item(login(10), { imap: false, pop3: false }, 2)]);
    expect(res.body.results[0]).toMatchObject({
      status: 'applied',
      previous: { imap: true, pop3: true },
      protocols: { imap: false, pop3: false },
      version: 3,
    });
  });

  it('refuses a repeated account as invalid duplicate_account and processes its first occurrence', async () => {
    const res = await f.http.batch([
      item(login(11), { imap: true }),
      item(login(11), { imap: false }),
      item('ghost@example.test', { imap: true }),
      item('ghost@example.test', { imap: true }),
    ]);
    expect(pluck(res.body.results, 'status')).toEqual(['applied', 'invalid', 'not_found', 'invalid']);
    expect(res.body.results[1].error.code).toBe('duplicate_account');
    expect(res.body.results[3].error.code).toBe('duplicate_account');
    expect(f.sim.account(login(11))?.protocols.imap).toBe(true);
  });

  it('answers 200 even when every item failed', async () => {
    const res = await f.http.batch([
      item('x@example.test', { imap: true }),
      { account: '', protocols: { imap: true } },
    ]);
    expect(res.status).toBe(200);
    expect(res.body.summary).toEqual({ applied: 0, unchanged: 0, failed: 2 });
    expect(res.body.results[1]).toMatchObject({ account: '', status: 'invalid', error: { code: 'invalid_account' } });
  });

  it.each([
    ['not an object', 'invalid_request', 'oops'],
    ['a non-string account', 'invalid_account', { account: 7, protocols: { imap: true } }],
    ['missing protocols', 'invalid_protocols', { account: 'user12@example.test' }],
    ['non-boolean protocol', 'invalid_protocols', { account: 'user12@example.test', protocols: { imap: 'on' } }],
    ['an unknown field', 'invalid_request', { account: 'user12@example.test', protocols: { imap: true }, force: true }],
    [
      'a zero ifVersion',
      'invalid_request',
      { account: 'user12@example.test', protocols: { imap: true }, ifVersion: 0 },
    ],
    [
      'a fractional ifVersion',
      'invalid_request',
      { account: 'user12@example.test', protocols: { imap: true }, ifVersion: 1.5 },
    ],
  ])('makes an item with %s invalid (%s); the others still apply', async (_label, code, bad) => {
    const res = await f.http.batch([bad, item(login(13), { pop3: true })]);
    expect(res.status).toBe(200);
    expect(res.body.results[0]).toMatchObject({ status: 'invalid', error: { code } });
    expect(res.body.results[1].status).toMatch(/applied|unchanged/);
    expect(f.sim.account(login(12))?.version).toBe(1);
  });

  it('answers 413 batch_too_large with maxItems over the limit, and applies nothing', async () => {
    const items = Array.from({ length: 11 }, (_, i) => item(login(20 + i), { imap: true }));
    const res = await f.http.batch(items);
    expect(problemOf(res)).toEqual(problem(413, 'batch_too_large'));
    expect(res.body.maxItems).toBe(10);
    for (let n = 20; n <= 30; n++) expect(f.sim.account(login(n))?.version).toBe(1);
    expect((await f.http.batch(items.slice(0, 10))).body.summary.applied).toBe(10);
  });

  it.each([
    ['an empty list', { items: [] }],
    ['no list', { items: 'all' }],
    ['an unknown top-level field', { items: [item(login(1), { imap: true })], dryRun: true }],
    ['a non-boolean revokeSessions', { items: [item(login(1), { imap: true })], revokeSessions: 1 }],
  ])('refuses %s with 400 invalid_request', async (_label, body) => {
    const res = await f.http.call('POST', '/access/batch', { body, idempotencyKey: `bad-${_label}` });
    expect(problemOf(res)).toEqual(problem(400, 'invalid_request'));
  });

  it('requires an Idempotency-Key, as in production', async () => {
    const res = await f.http.call('POST', '/access/batch', { body: { items: [item(login(14), { imap: true })] } });
    expect(problemOf(res)).toEqual(problem(400, 'invalid_request'));
    expect(res.body.detail).toMatch(/Idempotency-Key/);
    expect(f.sim.account(login(14))?.version).toBe(1);
  });

  it('revokes sessions only for items where a protocol went from on to off', async () => {
    await f.http.batch([
      item(login(40), { imap: true }),
      item(login(41), { imap: true }),
      item(login(42), { imap: true }),
    ]);
    for (const n of [40, 41, 42, 43]) {
      await f.http.admin('POST', `/accounts/${encodeURIComponent(login(n))}/sessions`, { count: 2 });
    }
    const res = await f.http.batch(
      [
        item(login(40), { imap: false }), // on -> off: revoked
        item(login(41), { imap: true, pop3: true }), // only turns something on: kept
        item(login(42), { imap: true }), // unchanged: kept
        item(login(43), { imap: false }), // already off: unchanged, kept
      ],
      { revokeSessions: true, reason: 'rollback' },
    );
    expect(pluck(res.body.results, 'sessions')).toEqual(['revoked', 'none', 'none', 'none']);
    expect([40, 41, 42, 43].map((n) => f.sim.account(login(n))?.sessions)).toEqual([0, 2, 2, 2]);
  });

  it('leaves out "sessions" when revokeSessions was not asked for', async () => {
    const res = await f.http.batch([item(login(44), { imap: true })]);
    expect(res.body.results[0]).not.toHaveProperty('sessions');
  });
});

describe('simulator: batch options', () => {
  it('accepts a batch without Idempotency-Key when requireIdempotencyKeyForBatch is false', async () => {
    const f = await startTestSim({ requireIdempotencyKeyForBatch: false });
    try {
      const res = await f.http.call('POST', '/access/batch', { body: { items: [item(login(1), { imap: true })] } });
      expect(res.status).toBe(200);
      expect(res.body.summary.applied).toBe(1);
    } finally {
      await f.close();
    }
  });

  it('refuses conditions when conditionalUpdates is off, and never revokes when revokeSessions is off', async () => {
    const f = await startTestSim({ conditionalUpdates: false, revokeSessions: false });
    try {
      expect((await f.http.capabilities()).body).toMatchObject({ conditionalUpdates: false, revokeSessions: false });
      const res = await f.http.batch([item(login(1), { imap: true }, 1)]);
      expect(res.body.results[0]).toMatchObject({ status: 'invalid', error: { code: 'invalid_request' } });
      const patch = await f.http.patch(login(2), { protocols: { imap: true } }, { headers: { 'if-match': '"1"' } });
      expect(problemOf(patch)).toEqual(problem(400, 'invalid_if_match'));
      await f.http.patch(login(3), { protocols: { imap: true } });
      await f.http.admin('POST', `/accounts/${encodeURIComponent(login(3))}/sessions`, { count: 1 });
      const off = await f.http.patch(login(3), { protocols: { imap: false }, revokeSessions: true });
      expect(off.body.sessions).toBe('none');
      expect(f.sim.account(login(3))?.sessions).toBe(1);
    } finally {
      await f.close();
    }
  });
});
