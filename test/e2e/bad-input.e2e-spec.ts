import { aWave, pollUntil } from '@app/testing';
import { ApiHarness, CallOptions, startApiHarness } from './api-harness';

interface Case {
  name: string;
  method: string;
  path: string;
  options: CallOptions;
  status: number;
  code: string;
  field?: string;
}

const HEADER = 'login,cohorts,leaked,password_changed_at';
/** A valid wave: each case spoils one field of it. */
const wave = aWave('w').remaining().protocols('imap').rate(10).build();

describe('bad input never gets a 500: problem+json with a stable code and the field at fault', () => {
  let api: ApiHarness;
  let waveId: string;

  beforeAll(async () => {
    api = await startApiHarness('badinput', {
      env: { API_CSV_MAX_LINES: '50', API_CSV_MAX_MB: '1', LOG_LEVEL: 'info' },
    });
    await api.h.importPopulation({ count: 20, seed: 9 });
    waveId = (await aWave('w').remaining().protocols('imap').rate(10).create(api.h, 'ops:t')).id;
  });
  afterAll(async () => {
    await api?.close();
  });

  const json = (body: string): CallOptions => ({ raw: body, headers: { 'content-type': 'application/json' } });
  const csv = (body: string): CallOptions => ({ raw: body, headers: { 'content-type': 'text/csv' } });
  const cases = (): Case[] => [
    {
      name: 'malformed JSON',
      method: 'POST',
      path: '/waves',
      options: json('{"name": "x",'),
      status: 400,
      code: 'invalid_json',
    },
    {
      name: 'JSON array body',
      method: 'POST',
      path: '/signals',
      options: { ...json('[1,2]'), key: 'signals' },
      status: 400,
      code: 'validation_failed',
      field: 'body',
    },
    {
      name: 'no body',
      method: 'POST',
      path: `/accounts/user1@example.test/hold`,
      options: { key: 'support' },
      status: 400,
      code: 'validation_failed',
      field: 'body',
    },
    {
      name: 'text/plain body',
      method: 'POST',
      path: '/waves',
      options: { raw: 'name=x', headers: { 'content-type': 'text/plain' } },
      status: 400,
      code: 'validation_failed',
      field: 'body',
    },
    {
      name: 'wrong type',
      method: 'POST',
      path: '/waves',
      options: { body: { ...wave, ratePerSecond: 'fast' } },
      status: 400,
      code: 'validation_failed',
      field: 'ratePerSecond',
    },
    {
      name: 'number as string',
      method: 'POST',
      path: '/waves',
      options: { body: { ...wave, batchSize: '5' } },
      status: 400,
      code: 'validation_failed',
      field: 'batchSize',
    },
    {
      name: 'unknown field',
      method: 'POST',
      path: '/waves',
      options: { body: { ...wave, admin: true } },
      status: 400,
      code: 'validation_failed',
      field: 'admin',
    },
    {
      name: 'unknown nested field',
      method: 'POST',
      path: '/waves',
      options: { body: { ...wave, steps: [{ percent: 100, bakeSeconds: 0, x: 1 }] } },
      status: 400,
      code: 'validation_failed',
      field: 'steps[0].x',
    },
    {
      name: 'bad gate (domain rule)',
      method: 'POST',
      path: '/waves',
      options: {
        body: {
          ...wave,
          gates: [
            {
              name: 'g',
              metric: 'mailstore_error_rate',
              windowSeconds: 60,
              minSamples: 1,
              threshold: 2,
              action: 'pause',
            },
          ],
        },
      },
      status: 400,
      code: 'validation_failed',
      field: 'gates[0].threshold',
    },
    {
      name: 'nonexistent local time (DST gap)',
      method: 'POST',
      path: '/waves',
      options: { body: { ...wave, startLocal: '2026-03-29T02:30', timeZone: 'Europe/Paris' } },
      status: 400,
      code: 'validation_failed',
      field: 'startLocal',
    },
    {
      name: 'selector of the wrong shape',
      method: 'POST',
      path: '/waves',
      options: { body: { ...wave, selector: 'everyone' } },
      status: 400,
      code: 'validation_failed',
      field: 'selector',
    },
    {
      name: 'NaN-like number',
      method: 'PATCH',
      path: '/waves/:wave',
      options: json('{"ratePerSecond": 1e999}'),
      status: 400,
      code: 'validation_failed',
      field: 'ratePerSecond',
    },
    {
      name: 'negative rate',
      method: 'PATCH',
      path: '/waves/:wave',
      options: { body: { ratePerSecond: -1 } },
      status: 400,
      code: 'validation_failed',
      field: 'ratePerSecond',
    },
    {
      name: 'huge JSON body',
      method: 'POST',
      path: '/signals',
      options: { key: 'signals', body: { name: 'x'.repeat(200_000) } },
      status: 413,
      code: 'payload_too_large',
    },
    {
      name: 'huge wave body',
      method: 'POST',
      path: '/waves',
      options: { body: { ...wave, description: 'x'.repeat(5 * 1024 * 1024) } },
      status: 413,
      code: 'payload_too_large',
    },
    {
      name: 'bad uuid',
      method: 'GET',
      path: '/waves/not-a-uuid',
      options: {},
      status: 400,
      code: 'validation_failed',
      field: 'id',
    },
    {
      name: 'unknown wave',
      method: 'GET',
      path: '/waves/00000000-0000-4000-8000-000000000000/progress',
      options: { key: 'viewer' },
      status: 404,
      code: 'wave_not_found',
    },
    {
      name: 'unknown operation',
      method: 'GET',
      path: '/operations/00000000-0000-4000-8000-000000000000',
      options: {},
      status: 404,
      code: 'operation_not_found',
    },
    { name: 'unknown route', method: 'GET', path: '/nope', options: {}, status: 404, code: 'not_found' },
    {
      name: 'unknown route without key',
      method: 'DELETE',
      path: '/waves',
      options: { key: null },
      status: 404,
      code: 'not_found',
    },
    {
      name: 'login with a NUL byte',
      method: 'GET',
      path: '/accounts/a%00b@example.test',
      options: {},
      status: 400,
      code: 'validation_failed',
      field: 'login',
    },
    {
      name: 'login path traversal',
      method: 'GET',
      path: '/accounts/..%2F..%2Fetc%2Fpasswd',
      options: {},
      status: 400,
      code: 'validation_failed',
      field: 'login',
    },
    {
      name: 'very long login',
      method: 'GET',
      path: `/accounts/${'a'.repeat(300)}@example.test`,
      options: {},
      status: 400,
      code: 'validation_failed',
      field: 'login',
    },
    {
      name: 'unicode login',
      method: 'GET',
      path: `/accounts/${encodeURIComponent('zoë@exämple.test')}`,
      options: {},
      status: 400,
      code: 'validation_failed',
      field: 'login',
    },
    {
      name: 'unknown login',
      method: 'GET',
      path: '/accounts/nobody@example.test',
      options: {},
      status: 404,
      code: 'account_not_found',
    },
    {
      name: 'enable without ticket',
      method: 'POST',
      path: '/accounts/user1@example.test/enable',
      options: { key: 'support', body: { reason: 'x' } },
      status: 400,
      code: 'validation_failed',
      field: 'ticket',
    },
    {
      name: 'enable with blank reason',
      method: 'POST',
      path: '/accounts/user1@example.test/enable',
      options: { key: 'support', body: { reason: '  ', ticket: 'T-1' } },
      status: 400,
      code: 'validation_failed',
      field: 'reason',
    },
    {
      name: 'enable with a bad protocol',
      method: 'POST',
      path: '/accounts/user1@example.test/enable',
      options: { key: 'support', body: { reason: 'r', ticket: 't', protocols: ['smtp'] } },
      status: 400,
      code: 'validation_failed',
      field: 'protocols',
    },
    {
      name: 'signal from the future',
      method: 'POST',
      path: '/signals',
      options: { key: 'signals', body: { name: 'x', value: 1, windowSeconds: 60, observedAt: '2999-01-01T00:00:00Z' } },
      status: 400,
      code: 'validation_failed',
      field: 'observedAt',
    },
    {
      name: 'signal without offset',
      method: 'POST',
      path: '/signals',
      options: { key: 'signals', body: { name: 'x', value: 1, windowSeconds: 60, observedAt: '2026-05-09T08:00' } },
      status: 400,
      code: 'validation_failed',
      field: 'observedAt',
    },
    {
      name: 'audit: bad date',
      method: 'GET',
      path: '/audit?from=yesterday',
      options: {},
      status: 400,
      code: 'validation_failed',
      field: 'from',
    },
    {
      name: 'audit: bad limit',
      method: 'GET',
      path: '/audit?limit=abc',
      options: {},
      status: 400,
      code: 'validation_failed',
      field: 'limit',
    },
    {
      name: 'audit: limit too large',
      method: 'GET',
      path: '/audit?limit=100000',
      options: {},
      status: 400,
      code: 'validation_failed',
      field: 'limit',
    },
    {
      name: 'audit: repeated parameter',
      method: 'GET',
      path: '/audit?login=a&login=b',
      options: {},
      status: 400,
      code: 'validation_failed',
      field: 'login',
    },
    {
      name: 'audit: unknown parameter',
      method: 'GET',
      path: '/audit?sort=asc',
      options: {},
      status: 400,
      code: 'validation_failed',
      field: 'sort',
    },
    {
      name: 'waves: bad cursor',
      method: 'GET',
      path: '/waves?cursor=zzz',
      options: {},
      status: 400,
      code: 'validation_failed',
      field: 'cursor',
    },
    {
      name: 'arrays nested 2,000 deep (a 4 KB body)',
      method: 'POST',
      path: '/waves',
      options: json(`{"name":"w","steps":${'['.repeat(2000)}${']'.repeat(2000)}}`),
      status: 400,
      code: 'validation_failed',
      field: `steps${'[0]'.repeat(31)}`,
    },
    {
      name: 'NUL byte in a support reason',
      method: 'POST',
      path: '/accounts/user1@example.test/enable',
      options: { key: 'support', body: { reason: 'a\u0000b', ticket: 'T-1' } },
      status: 400,
      code: 'validation_failed',
      field: 'reason',
    },
    {
      name: 'NUL byte in a ticket',
      method: 'POST',
      path: '/accounts/user1@example.test/hold',
      options: { key: 'support', body: { reason: 'r', ticket: 'T\u0000' } },
      status: 400,
      code: 'validation_failed',
      field: 'ticket',
    },
    {
      name: 'lone surrogate in a wave name',
      method: 'PATCH',
      path: '/waves/:wave',
      options: json('{"name": "w\\ud800"}'),
      status: 400,
      code: 'validation_failed',
      field: 'name',
    },
    {
      name: 'lone surrogate in a wave login list',
      method: 'POST',
      path: '/waves',
      options: json(
        '{"name":"w","selector":{"type":"logins","logins":["user1@example.test","x\\udc00@example.test"]},' +
          '"protocols":["imap"],"ratePerSecond":1}',
      ),
      status: 400,
      code: 'validation_failed',
      field: 'selector.logins[1]',
    },
    {
      name: 'body bytes that are not UTF-8',
      method: 'POST',
      path: '/signals',
      options: {
        key: 'signals',
        raw: Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]),
        headers: { 'content-type': 'application/json' },
      },
      status: 400,
      code: 'invalid_body',
      field: 'body',
    },
    {
      name: 'waves: forged cursor (a date PostgreSQL cannot hold)',
      method: 'GET',
      path: `/waves?cursor=${Buffer.from('-271821-04-20T00:00:00.000Z|00000000-0000-4000-8000-000000000000').toString('base64url')}`,
      options: {},
      status: 400,
      code: 'validation_failed',
      field: 'cursor',
    },
    {
      name: '%FF in a login',
      method: 'GET',
      path: '/accounts/%FF',
      options: {},
      status: 400,
      code: 'validation_failed',
      field: 'login',
    },
    {
      name: 'overlong %C0%AF in a wave id',
      method: 'POST',
      path: '/waves/%C0%AF/pause',
      options: {},
      status: 400,
      code: 'validation_failed',
      field: 'id',
    },
    {
      name: 'encoded surrogate in a query parameter',
      method: 'GET',
      path: '/audit?login=%ED%A0%80',
      options: {},
      status: 400,
      code: 'validation_failed',
      field: 'login',
    },
    {
      name: 'import: wrong media type',
      method: 'POST',
      path: '/accounts/import',
      options: json('{}'),
      status: 415,
      code: 'unsupported_media_type',
    },
    {
      name: 'import: wrong header',
      method: 'POST',
      path: '/accounts/import',
      options: csv('email,tags\nx@y.z,a\n'),
      status: 400,
      code: 'wrong_header',
      field: 'header',
    },
    {
      name: 'import: empty file',
      method: 'POST',
      path: '/accounts/import',
      options: csv(''),
      status: 400,
      code: 'missing_header',
      field: 'header',
    },
    {
      name: 'import: partial=maybe',
      method: 'POST',
      path: '/accounts/import?partial=maybe',
      options: csv(`${HEADER}\n`),
      status: 400,
      code: 'validation_failed',
      field: 'partial',
    },
    {
      name: 'import: too many lines',
      method: 'POST',
      path: '/accounts/import',
      options: csv(
        `${HEADER}\n${Array.from({ length: 51 }, (_, i) => `u${i}@example.test,general,false,`).join('\n')}\n`,
      ),
      status: 413,
      code: 'too_many_lines',
    },
    {
      name: 'import: too large',
      method: 'POST',
      path: '/accounts/import',
      options: csv(`${HEADER}\n${'#'.repeat(1_100_000)}\n`),
      status: 413,
      code: 'payload_too_large',
    },
    {
      name: 'illegal transition',
      method: 'POST',
      path: '/waves/:wave/pause',
      options: {},
      status: 409,
      code: 'illegal_transition',
    },
  ];

  // Built before beforeAll runs: ':wave' stands for the fixture wave's id.
  it.each(cases().map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const res = await api.call(c.method, c.path.replace(':wave', waveId), c.options);
    expect(res.headers.get('content-type')).toBe('application/problem+json; charset=utf-8');
    expect({ status: res.status, code: res.body.code }).toEqual({ status: c.status, code: c.code });
    expect(res.body).toMatchObject({
      type: `urn:reopen:problem:${c.code}`,
      status: c.status,
      requestId: expect.any(String),
    });
    if (c.field) expect(res.body.field).toBe(c.field);
    expect(res.text).not.toMatch(/\bat .+\.(js|ts):\d+|QueryFailedError|node_modules/);
  });

  it('refuses a wave over a cohort no imported account is in (a typo would select nobody), naming it', async () => {
    const waves = async () =>
      Number((await api.h.db.dataSource.query<{ n: string }[]>(`SELECT count(*) AS n FROM waves`))[0].n);
    const known = (
      await api.h.db.dataSource.query<{ name: string }[]>(
        `SELECT DISTINCT unnest(cohorts) AS name FROM accounts ORDER BY name`,
      )
    ).map((r) => r.name);
    expect(known.length).toBeGreaterThan(0);
    const before = await waves();
    const res = await api.call('POST', '/waves', {
      body: { ...wave, selector: { type: 'cohorts', cohorts: ['helth', ...known, 'generl'] } },
    });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: 'validation_failed', field: 'selector.cohorts[0]' });
    const there = `(the population's cohorts: ${known.join(', ')})`;
    const last = `selector.cohorts[${known.length + 1}]`;
    expect(res.body.errors).toEqual([
      {
        field: 'selector.cohorts[0]',
        message: `selector.cohorts[0] is "helth", a cohort no imported account is in ${there}`,
      },
      { field: last, message: `${last} is "generl", a cohort no imported account is in ${there}` },
    ]);
    expect(await waves()).toBe(before);
    const good = await api.call('POST', '/waves', { body: { ...wave, selector: { type: 'cohorts', cohorts: known } } });
    expect(good.status).toBe(201);
  });

  it('names every bad line of a rejected import, and imports nothing', async () => {
    const file = `${HEADER}\nok1@example.test,general,false,\nnot-a-login,general,false,\nok2@example.test,general,perhaps,\n`;
    const res = await api.call('POST', '/accounts/import', csv(file));
    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({
      code: 'import_rejected',
      field: 'login',
      report: { status: 'rejected', inserted: 0 },
    });
    const errors = res.body.errors as { line: number; field: string }[];
    expect(errors.map((e) => [e.line, e.field])).toEqual([
      [3, 'login'],
      [4, 'leaked'],
    ]);
    const partial = await api.call('POST', '/accounts/import?partial=true', csv(file));
    expect(partial.status).toBe(200);
    expect(partial.body).toMatchObject({ status: 'imported', inserted: 1, rejected: 2 });
  });

  it('survives random JSON thrown at every write route', async () => {
    const values: unknown[] = [null, true, 0, -1, 1e308, '', 'x'.repeat(300), [], [null], {}, { a: { b: { c: [] } } }];
    const routes: [string, string, CallOptions['key']][] = [
      ['POST', '/waves', 'ops'],
      ['PATCH', `/waves/${waveId}`, 'ops'],
      ['POST', '/signals', 'signals'],
      ['POST', '/accounts/user2@example.test/enable', 'support'],
      ['POST', '/accounts/user2@example.test/hold', 'support'],
    ];
    const fields = [
      'name',
      'selector',
      'protocols',
      'ratePerSecond',
      'gates',
      'steps',
      'value',
      'observedAt',
      'reason',
      'ticket',
    ];
    const statuses = new Set<number>();
    for (const [method, path, key] of routes) {
      for (const field of fields) {
        for (const value of values) {
          const res = await api.call(method, path, { key, body: { [field]: value } });
          statuses.add(res.status);
          if (res.status >= 500)
            throw new Error(`${method} ${path} {${field}: ${JSON.stringify(value)}} → ${res.text}`);
        }
      }
    }
    expect([...statuses].every((s) => s < 500)).toBe(true);
  });

  it('echoes a sane X-Request-Id and makes one otherwise', async () => {
    const given = await api.call('GET', '/waves?state=draft&limit=7', { headers: { 'x-request-id': 'dash-42.a' } });
    expect(given.headers.get('x-request-id')).toBe('dash-42.a');
    const odd = await api.call('GET', '/nope', { headers: { 'x-request-id': 'bad id\twith spaces' } });
    expect(odd.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(odd.body.requestId).toBe(odd.headers.get('x-request-id'));
    // One JSON log line per request, under the same id, with the actor and never the key.
    const line = await pollUntil(() => api.api.lines.find((l) => l.includes('"dash-42.a"')));
    expect(JSON.parse(line)).toMatchObject({
      level: 30,
      msg: 'request completed',
      actor: `ops:${api.keyNames.ops}`,
      req: { id: 'dash-42.a', method: 'GET', path: '/api/v1/waves' },
      res: { statusCode: 200 },
      responseTime: expect.any(Number),
    });
    expect(api.api.lines.join('\n')).not.toContain(api.secrets.ops.slice(8));
    // Never the query string (logins, cursors).
    expect(line).not.toMatch(/state=|limit=7|\?/);
  });
});
