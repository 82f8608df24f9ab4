import { gzipSync } from 'node:zlib';
import { ApiHarness, startApiHarness } from './api-harness';

/*
 * Security probe: a body whose Content-Encoding does not decode (gzip, deflate or br over bytes that are not). The
 * JSON parser inflates the body first, and its decompression error carried no body-parser type: it reached Nest's
 * fallback as a bare 400 whose detail was zlib's own message ("incorrect header check", "Decompression failed") and
 * named no field. Like any body the API cannot read, it must be a 400 problem naming `body`, and write nothing.
 */
describe('a body that does not decode is a 400 naming the body', () => {
  let api: ApiHarness;
  const count = async (table: string) =>
    Number((await api.h.db.owner.query(`SELECT count(*)::int AS n FROM ${table}`))[0].n);
  const wave = { name: 'enc', selector: { type: 'remaining' }, protocols: ['imap'], ratePerSecond: 1 };

  beforeAll(async () => {
    api = await startApiHarness('probeenc', { accounts: 5 });
  });
  afterAll(async () => {
    await api?.close();
  });

  it.each(['gzip', 'deflate', 'br'])('POST /waves, Content-Encoding %s over plain JSON', async (encoding) => {
    const before = await count('waves');
    const res = await api.call('POST', '/waves', {
      raw: JSON.stringify(wave),
      headers: { 'content-type': 'application/json', 'content-encoding': encoding },
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(res.body).toMatchObject({ code: 'invalid_body', field: 'body' });
    expect(res.body.detail).not.toMatch(/header check|Decompression|zlib/i);
    expect(await count('waves')).toBe(before);
  });

  it('POST /waves, a gzip body cut short: the same', async () => {
    const before = await count('waves');
    const whole = gzipSync(JSON.stringify(wave));
    const res = await api.call('POST', '/waves', {
      raw: whole.subarray(0, whole.length - 12),
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
    });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: 'invalid_body', field: 'body' });
    expect(await count('waves')).toBe(before);
  });

  it('POST /login-events (the signals key, through Express): the same', async () => {
    const res = await api.call('POST', '/login-events', {
      key: 'signals',
      raw: '{"event":"auth_request_finished"}',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
    });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: 'invalid_body', field: 'body' });
  });

  it('a gzip body that decodes is read as JSON (the encoding itself is accepted)', async () => {
    const res = await api.call('POST', '/waves', {
      raw: gzipSync(JSON.stringify(wave)),
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
    });
    expect(res.status).toBe(201);
    expect(res.body.name).toBe('enc');
  });
});
