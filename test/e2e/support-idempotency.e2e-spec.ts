import { tmpdir } from 'node:os';
import { pollUntil, populationLogin, runReopen } from '@app/testing';
import { ApiHarness, startApiHarness } from './api-harness';

/**
 * A support agent's request sent twice (a double click, a retry after a lost answer) under its `Idempotency-Key`: one
 * operation, one audit row, one change at the mailstore; the same key with another request is refused, and so is a
 * key that is not one. Real API process, worker, simulator, PostgreSQL and Redis.
 */
describe('support requests under an Idempotency-Key', () => {
  let api: ApiHarness;

  beforeAll(async () => {
    api = await startApiHarness('support-idempotency', { accounts: 10, worker: true });
    await api.h.importPopulation({ count: 10, seed: 5, leakedShare: 0 });
  });
  afterAll(async () => {
    await api?.close();
  });

  const body = (ticket: string) => ({ protocols: ['imap'], reason: 'practice software down', ticket });
  const enable = (login: string, key: string | undefined, ticket = 'INC-1') =>
    api.call<{ id: string; state: string }>('POST', `/accounts/${login}/enable`, {
      key: 'support',
      body: body(ticket),
      headers: key === undefined ? {} : { 'idempotency-key': key },
    });
  const count = async (sql: string, params: unknown[]) =>
    Number((await api.h.db.dataSource.query<{ n: string }[]>(sql, params))[0].n);

  it('the same request again, even at once, is the first one: one operation, one audit row, one mailstore change', async () => {
    const login = populationLogin(1);
    const answers = await Promise.all([1, 2, 3, 4].map(() => enable(login, 'agent-7f3a')));
    expect(answers.map((a) => a.status)).toEqual([202, 202, 202, 202]);
    const ids = new Set(answers.map((a) => a.body.id));
    expect(ids.size).toBe(1);
    const [id] = [...ids];
    expect(await count(`SELECT count(*) AS n FROM operations WHERE login = $1`, [login])).toBe(1);
    expect(
      await count(`SELECT count(*) AS n FROM audit_log WHERE action = 'support.enable_requested' AND login = $1`, [
        login,
      ]),
    ).toBe(1);
    await pollUntil(
      async () =>
        (await api.call<{ state: string }>('GET', `/operations/${id}`, { key: 'support' })).body.state === 'succeeded',
      {
        description: 'the operation done',
      },
    );
    expect(api.h.sim.account(login)?.protocols.imap).toBe(true);
    // Sent again once done: still the same operation, nothing new at the mailstore.
    const again = await enable(login, 'agent-7f3a');
    expect(again.body.id).toBe(id);
    expect(await count(`SELECT count(*) AS n FROM operations WHERE login = $1`, [login])).toBe(1);
  });

  it('the key with another request: 409 naming the header, nothing made; without a key, each request is its own', async () => {
    const login = populationLogin(2);
    const first = await enable(login, 'agent-c41d');
    expect(first.status).toBe(202);
    const other = await enable(login, 'agent-c41d', 'INC-2');
    expect(other.status).toBe(409);
    expect(other.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(other.body).toMatchObject({
      code: 'idempotency_key_reused',
      field: 'Idempotency-Key',
      operationId: first.body.id,
    });
    // The same key on another route is another request too.
    const byOps = await api.call<{ id: string }>('POST', `/accounts/${login}/disable`, {
      key: 'support',
      body: body('INC-3'),
      headers: { 'idempotency-key': 'agent-c41d' },
    });
    expect(byOps.status).toBe(409);
    const plain = [await enable(login, undefined), await enable(login, undefined)];
    expect(new Set(plain.map((p) => p.body.id)).size).toBe(2);
    expect(await count(`SELECT count(*) AS n FROM operations WHERE login = $1`, [login])).toBe(3);
  });

  it('reopen accounts enable --idempotency-key, run twice: the same operation', async () => {
    const login = populationLogin(4);
    const env = {
      PATH: process.env.PATH ?? '',
      HOME: tmpdir(),
      REOPEN_URL: api.api.origin,
      REOPEN_API_KEY: api.secrets.support,
    };
    const args = ['--json', 'accounts', 'enable', login, '--reason', 'r', '--ticket', 'SUP-9', '--no-wait'];
    const runs = [
      await runReopen([...args, '--idempotency-key', 'SUP-9-1'], { env }),
      await runReopen([...args, '--idempotency-key', 'SUP-9-1'], { env }),
    ];
    expect(runs.map((r) => r.code)).toEqual([0, 0]);
    const ids = runs.map((r) => (JSON.parse(r.stdout) as { id: string }).id);
    expect(ids[1]).toBe(ids[0]);
    expect(await count(`SELECT count(*) AS n FROM operations WHERE login = $1`, [login])).toBe(1);
  });

  it.each([
    ['a space in it', 'two words'],
    ['over 255 characters', 'k'.repeat(256)],
    ['not ASCII', 'clé'],
  ])('a key with %s: 400 naming the header, nothing made', async (_what, key) => {
    const login = populationLogin(3);
    const res = await enable(login, key);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ field: 'Idempotency-Key' });
    expect(await count(`SELECT count(*) AS n FROM operations WHERE login = $1`, [login])).toBe(0);
  });
});
