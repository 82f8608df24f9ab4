import { request } from 'node:http';
import { ApiHarness, CallOptions, startApiHarness } from './api-harness';

const HEADER = 'login,cohorts,leaked,password_changed_at';
const PROBLEM = 'application/problem+json; charset=utf-8';

/**
 * The CSV import from the outside (issue 15, finding 8): a bad file gets a short 4xx problem naming the line and
 * the field, whatever its size or bytes, and nothing is imported.
 */
describe('CSV import refuses bad files precisely, quickly and without writing', () => {
  let api: ApiHarness;

  beforeAll(async () => {
    api = await startApiHarness('csvimport');
    await api.h.importPopulation({ count: 10, seed: 3 });
  });
  afterAll(async () => {
    await api?.close();
  });

  const csv = (body: string | Buffer): CallOptions => ({ raw: body, headers: { 'content-type': 'text/csv' } });
  const accounts = async () =>
    (
      await api.h.db.dataSource.query<{ login: string; v: number }[]>(
        `SELECT login, version AS v FROM accounts ORDER BY login`,
      )
    ).map((a) => `${a.login}:${a.v}`);

  it('quotes a short prefix of a wrong first line, never all of it', async () => {
    const firstLine = `alice@example.test,${'health|'.repeat(580)},false,`; // 4 KB: under the line limit
    const res = await api.call('POST', '/accounts/import', csv(`${firstLine}\n`));
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toBe(PROBLEM);
    expect(res.body).toMatchObject({ code: 'wrong_header', field: 'header' });
    expect(res.text.length).toBeLessThan(1024);
  });

  it('refuses an 83 KB first line as too long, with a short answer', async () => {
    const firstLine = `alice@example.test,${'health|'.repeat(11_800)},false,`;
    const res = await api.call('POST', '/accounts/import', csv(`${firstLine}\n`));
    expect(res.status).toBe(413);
    expect(res.headers.get('content-type')).toBe(PROBLEM);
    expect(res.body).toMatchObject({ code: 'line_too_long', field: 'header', line: 1 });
    expect(res.text.length).toBeLessThan(1024);
  });

  it('refuses a login with an invalid UTF-8 byte (422 naming line and field) and imports nothing', async () => {
    const before = await accounts();
    const file = Buffer.concat([
      Buffer.from(`${HEADER}\nnew1@example.test,general,false,\n`),
      Buffer.from('\u00e9lise@example.test', 'latin1'),
      Buffer.from(',general,false,\n'),
    ]);
    const res = await api.call('POST', '/accounts/import', csv(file));
    expect(res.status).toBe(422);
    expect(res.headers.get('content-type')).toBe(PROBLEM);
    expect(res.body).toMatchObject({
      code: 'import_rejected',
      field: 'login',
      errors: [{ line: 3, field: 'login', message: expect.stringMatching(/^line 3: login is not valid UTF-8/) }],
    });
    expect(await accounts()).toEqual(before);
  });

  it('refuses a password change in year 0050 (never stored as 1950)', async () => {
    const before = await accounts();
    const res = await api.call(
      'POST',
      '/accounts/import',
      csv(`${HEADER}\nnew2@example.test,general,true,0050-05-03T10:00:00Z\n`),
    );
    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({
      field: 'password_changed_at',
      errors: [{ line: 2, field: 'password_changed_at', message: expect.stringMatching(/year 0050 is before 1970/) }],
    });
    expect(await accounts()).toEqual(before);
  });

  it('answers 413 line_too_long once the line passes the limit, without waiting for the rest', async () => {
    const before = await accounts();
    const url = new URL(`${api.api.origin}/api/v1/accounts/import`);
    // The body never ends: before the fix, the server read on until the end of the body (quadratically).
    const req = request(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${api.secrets.ops}`, 'content-type': 'text/csv' },
    });
    req.on('error', () => undefined); // the server closes the connection after its answer
    const answer = new Promise<{ status: number; type: string; body: string }>((resolve) => {
      req.on('response', (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, type: String(res.headers['content-type']), body }));
      });
    });
    req.write(`${HEADER}\nnew3@example.test,${'general|'.repeat(1024)}`); // 8 KB into line 2, still open
    try {
      const res = await answer;
      expect(res.status).toBe(413);
      expect(res.type).toBe(PROBLEM);
      expect(JSON.parse(res.body)).toMatchObject({
        code: 'line_too_long',
        field: 'cohorts',
        line: 2,
        limitChars: 4096,
      });
    } finally {
      req.destroy();
    }
    expect(await accounts()).toEqual(before);
  });
});
