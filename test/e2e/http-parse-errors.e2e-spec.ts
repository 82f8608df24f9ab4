import { connect } from 'node:net';
import { ApiHarness, startApiHarness } from './api-harness';

/*
 * Security probe: requests node's HTTP parser refuses before Express or the login-event fast path see them (an
 * unknown method, a Content-Length that is not a number or comes twice, Content-Length with chunked encoding: the
 * request-smuggling shapes, a bad chunk, headers past the limit). Node answered each with a bare status line and no
 * body; the house rule is a 4xx application/problem+json naming what is at fault, like every other refusal.
 */
describe('requests the HTTP parser refuses get a problem naming the part at fault', () => {
  let api: ApiHarness;
  let port: number;

  beforeAll(async () => {
    api = await startApiHarness('probeparse', { accounts: 5 });
    port = Number(new URL(api.api.origin).port);
  });
  afterAll(async () => {
    await api?.close();
  });

  /** Sends raw bytes on a fresh connection; resolves with everything the server wrote before it closed. */
  const raw = (bytes: string) =>
    new Promise<{ status: number; headers: string; body: string }>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1');
      let out = '';
      const timer = setTimeout(() => socket.destroy(new Error(`no close: ${out}`)), 5000);
      socket.on('data', (d: Buffer) => (out += d.toString('latin1')));
      socket.on('error', reject);
      socket.on('close', () => {
        clearTimeout(timer);
        const [head, body = ''] = out.split('\r\n\r\n');
        resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0), headers: head, body });
      });
      socket.end(bytes);
    });

  const post = (headers: string, body = '{}') =>
    `POST /api/v1/waves HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${headers}\r\n${body}`;

  it.each([
    ['an unknown method', 'FOO /api/v1/waves HTTP/1.1\r\nHost: x\r\n\r\n', 400, 'method'],
    ['a Content-Length that is not a number', post('Content-Length: 1e3\r\n'), 400, 'content-length'],
    ['two Content-Lengths', post('Content-Length: 2\r\nContent-Length: 3\r\n'), 400, 'content-length'],
    [
      'Content-Length with chunked encoding',
      post('Content-Length: 5\r\nTransfer-Encoding: chunked\r\n', '2\r\n{}\r\n0\r\n\r\n'),
      400,
      'transfer-encoding',
    ],
    ['a chunk size that is not hex', post('Transfer-Encoding: chunked\r\n', 'zz\r\n{}\r\n0\r\n\r\n'), 400, 'body'],
    [
      'headers past the limit',
      `GET /api/v1/waves HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20000)}\r\n\r\n`,
      431,
      'headers',
    ],
  ])('%s: a problem+json naming the part at fault, the connection closed', async (_what, bytes, status, field) => {
    const res = await raw(bytes);
    expect(res.status).toBe(status);
    expect(res.headers).toMatch(/\r\ncontent-type: application\/problem\+json; charset=utf-8/i);
    expect(res.headers).toMatch(/\r\nconnection: close/i);
    expect(res.headers).toMatch(/\r\ncache-control: no-store/i);
    const body = JSON.parse(res.body) as { status: number; field: string; code: string };
    expect(body).toMatchObject({ status, field });
    expect(typeof body.code).toBe('string');
  });

  it('the API goes on serving afterwards', async () => {
    expect((await api.call('GET', '/waves', { key: 'viewer' })).status).toBe(200);
  });
});
