import { aWave } from '@app/testing';
import { ApiHarness, ApiResponse, KeyName, startApiHarness } from './api-harness';
import {
  BadInput,
  badInputs,
  baselineBody,
  Fixtures,
  loadDocument,
  Operation,
  operations,
  validPath,
} from './openapi-inputs';

const PROBLEM = 'application/problem+json; charset=utf-8';

/**
 * Every table's row count and content hash (audit_log's included, so its max id too) in one statement; api_keys
 * only by count, since each request stamps its key's last use.
 */
const FINGERPRINT = `
  SELECT string_agg(table_name || '=' || (xpath('/row/f/text()', query_to_xml(
           CASE WHEN table_name = 'api_keys' THEN format('SELECT count(*) AS f FROM %I', table_name)
                ELSE format('SELECT count(*) || '':'' || md5(coalesce(string_agg(t::text, '','' ORDER BY t::text), ''''))
                               AS f FROM %I t', table_name) END,
           false, true, '')))[1]::text, ' ' ORDER BY table_name) AS fingerprint
    FROM information_schema.tables
   WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`;

/** Why an answer is not the promised one: a 4xx problem+json that names the field. null when it is. */
function fault(c: BadInput, res: ApiResponse): string | null {
  if (res.status < 400 || res.status >= 500) return `status ${res.status}: ${res.text.slice(0, 300)}`;
  if (res.headers.get('content-type') !== PROBLEM) return `content-type ${res.headers.get('content-type')}`;
  if (c.field === null) return null;
  const body = res.body as { field?: string; errors?: { field: string }[] };
  const named = [body.field, ...(body.errors ?? []).map((e) => e.field)].filter((f): f is string => !!f);
  const ok = named.some(
    (f) =>
      f === c.field ||
      (c.fieldPrefix && f.startsWith(c.field!)) ||
      // class-validator's `each` rules name the array, not the item.
      c.field!.startsWith(`${f}[`),
  );
  return ok ? null : `names ${JSON.stringify(named)}, not ${c.field} (${res.status} ${body.field ?? ''})`;
}

describe('bad input generated from docs/openapi.json: a 4xx problem naming the field, for every route, and no write', () => {
  let api: ApiHarness;
  const fixtures: Fixtures = { waveId: '' };
  const doc = loadDocument();
  const ops = operations(doc);
  // POST /login-events is a stream of the mail server's events, not a command: their fields are Dovecot's (dozens,
  // unknown ones included), and an event the service cannot use is counted and dropped with a 202, never refused (a
  // refusal makes the sender retry it). test/e2e/login-events.e2e-spec.ts covers what it refuses (not an event, too
  // many, no key).
  const STREAMS = new Set(['POST /api/v1/login-events']);
  const withInput = ops.filter(
    (op) => !STREAMS.has(`${op.method} ${op.template}`) && (op.body || op.params.some((p) => p.in !== 'header')),
  );

  beforeAll(async () => {
    // Hundreds of requests a minute on one key: above the per-key limit, which is not what is tested here.
    api = await startApiHarness('badgen', { env: { API_RATE_LIMIT_PER_MINUTE: '1000000' } });
    await api.h.importPopulation({ count: 20, seed: 5 });
    fixtures.waveId = (await aWave('w').remaining().protocols('imap').rate(10).create(api.h, 'ops:t')).id;
  });
  afterAll(async () => {
    await api?.close();
  });

  const fingerprint = async () =>
    (await api.h.db.dataSource.query<{ fingerprint: string }[]>(FINGERPRINT))[0].fingerprint;
  const key = (op: Operation): KeyName | null => (op.roles[0] as KeyName | undefined) ?? null;
  const send = (op: Operation, c: Pick<BadInput, 'method' | 'path' | 'body' | 'contentType'>) =>
    api.call(c.method, c.path, {
      key: key(op),
      raw: c.body,
      headers: c.contentType ? { 'content-type': c.contentType } : {},
    });

  it('generates bad inputs for every route that takes any (the 8 JSON bodies at least)', () => {
    const empty = withInput.filter((op) => badInputs(op, { waveId: 'w' }, doc).length === 0);
    expect(empty.map((op) => `${op.method} ${op.template}`)).toEqual([]);
    expect(withInput.filter((op) => op.body?.type === 'application/json').length).toBeGreaterThanOrEqual(8);
  });

  it.each(
    withInput.filter((op) => op.body?.type === 'application/json').map((op) => [`${op.method} ${op.template}`, op]),
  )('the baseline body of %s passes the DTO (so each case is refused for its own field)', async (_route, op) => {
    const body = { ...(baselineBody(op, fixtures, doc) as object), zzProbe: 1 };
    const path = validPath(op, fixtures);
    const res = await send(op, {
      method: op.method,
      path,
      body: JSON.stringify(body),
      contentType: 'application/json',
    });
    expect({ status: res.status, errors: (res.body as { errors?: unknown }).errors }).toEqual({
      status: 400,
      errors: [{ field: 'zzProbe', message: 'zzProbe is not a known field' }],
    });
  });

  // Built before beforeAll runs (the wave id is filled in later): only the count is read here.
  const named = withInput.map(
    (op) => [`${op.method} ${op.template} (${badInputs(op, { waveId: 'w' }, doc).length} inputs)`, op] as const,
  );
  it.each(named)('%s', async (_route, op) => {
    const cases = badInputs(op, fixtures, doc);
    const before = await fingerprint();
    const failures: string[] = [];
    for (const c of cases) {
      const res = await send(op, c);
      const wrong = fault(c, res);
      if (wrong) failures.push(`${c.label}: ${wrong}`);
      if (c.write && (await fingerprint()) !== before) {
        failures.push(`${c.label}: the database changed`);
        break; // every later comparison would fail too
      }
    }
    expect(failures).toEqual([]);
    expect(cases.length).toBeGreaterThan(0);
  });
});
