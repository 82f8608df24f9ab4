import { ApiHarness, startApiHarness } from './api-harness';

/*
 * Security probe: JSON and query fields named like Object.prototype's members (`__proto__`, `constructor`,
 * `toString`…). Any other unknown field is refused (400 naming it, docs/security.md), but class-transformer skips these
 * names, so the whitelist never saw them: the request was accepted and the field dropped in silence. Each must be
 * refused like `foo`, naming the field, and write nothing.
 */
describe('fields named like prototype members are unknown fields', () => {
  let api: ApiHarness;
  const wave = {
    name: 'probe',
    selector: { type: 'cohorts', cohorts: ['general'] },
    protocols: ['imap'],
    ratePerSecond: 5,
  };
  const count = async (table: string) =>
    Number((await api.h.db.owner.query(`SELECT count(*)::int AS n FROM ${table}`))[0].n);

  beforeAll(async () => {
    api = await startApiHarness('probeproto', { accounts: 5 });
    await api.h.importPopulation({ count: 5, seed: 4 });
  });
  afterAll(async () => {
    await api?.close();
  });

  // The raw text, so that JSON.stringify cannot drop or rename a `__proto__` key.
  const post = (path: string, raw: string, key: 'ops' | 'support' = 'ops') =>
    api.call('POST', path, { key, raw, headers: { 'content-type': 'application/json' } });
  const body = (extra: string, selectorExtra = '', stepExtra = '') =>
    `{"name":"probe","selector":{"type":"cohorts","cohorts":["general"]${selectorExtra}},"protocols":["imap"],` +
    `"ratePerSecond":5,"steps":[{"percent":100,"bakeSeconds":0${stepExtra}}]${extra}}`;

  it('an ordinary unknown field is refused (the rule the others must follow)', async () => {
    const res = await post('/waves', body(',"foo":1'));
    expect(res.status).toBe(400);
    expect(res.body.field).toBe('foo');
  });

  it.each([
    ['__proto__', body(',"__proto__":{"batchSize":999999}')],
    ['constructor', body(',"constructor":{"prototype":{"polluted":true}}')],
    ['toString', body(',"toString":1')],
    ['hasOwnProperty', body(',"hasOwnProperty":"x"')],
    ['selector.constructor', body('', ',"constructor":{}')],
    ['steps[0].valueOf', body('', '', ',"valueOf":1')],
  ])('POST /waves with %s: 400 naming it, no wave written', async (field, raw) => {
    const before = await count('waves');
    const res = await post('/waves', raw);
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(res.body.field).toBe(field);
    expect(res.body.errors).toEqual([{ field, message: `${field} is not a known field` }]);
    expect(await count('waves')).toBe(before);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it.each(['constructor', '__proto__', 'toString'])('GET /waves?%s=1: 400 naming it', async (name) => {
    const res = await api.call('GET', `/waves?${name}=1`);
    expect(res.status).toBe(400);
    expect(res.body.field).toBe(name);
  });

  it('a support hold with a constructor field: 400, the account not held, nothing audited', async () => {
    const [{ login }] = await api.h.db.owner.query(`SELECT login FROM accounts ORDER BY login LIMIT 1`);
    const audit = await count('audit_log');
    const res = await post(
      `/accounts/${encodeURIComponent(login)}/hold`,
      '{"reason":"probe","ticket":"T-1","constructor":1}',
      'support',
    );
    expect(res.status).toBe(400);
    expect(res.body.field).toBe('constructor');
    const [row] = await api.h.db.owner.query(`SELECT held FROM accounts WHERE login = $1`, [login]);
    expect(row.held).toBe(false);
    expect(await count('audit_log')).toBe(audit);
  });

  it('the same bodies without those fields are accepted (the refusal is the field, not the rest)', async () => {
    const res = await api.call('POST', '/waves', { body: wave });
    expect(res.status).toBe(201);
  });
});
