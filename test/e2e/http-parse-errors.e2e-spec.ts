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

  it('a keep-alive connection whose earlier answer is complete gets the problem too, not a silent close', async () => {
    const socket = connect(port, '127.0.0.1');
    let out = '';
    socket.on('data', (d: Buffer) => (out += d.toString('latin1')));
    const closed = new Promise((resolve) => socket.on('close', resolve));
    socket.write('GET /api/v1/health/live HTTP/1.1\r\nHost: x\r\n\r\n');
    const deadline = Date.now() + 5000;
    while (!/^HTTP\/1\.1 200[^]*\r\n\r\n[^]*\}/.test(out) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    socket.write('FOO /api/v1/waves HTTP/1.1\r\nHost: x\r\n\r\n');
    await closed;
    expect(out.match(/HTTP\/1\.1 \d{3}/g)).toEqual(['HTTP/1.1 200', 'HTTP/1.1 400']);
    const second = out.slice(out.indexOf('HTTP/1.1 400'));
    expect(second).toMatch(/\r\ncontent-type: application\/problem\+json; charset=utf-8/i);
    expect(JSON.parse(second.split('\r\n\r\n')[1] ?? '')).toMatchObject({ status: 400, field: 'method' });
  });

  describe('slow clients are cut at the configured limits, with a 408 problem', () => {
    let slow: { origin: string };
    let slowPort: number;
    beforeAll(async () => {
      slow = await api.startAnotherApi({ API_HEADERS_TIMEOUT_MS: '1000', API_REQUEST_TIMEOUT_MS: '2500' });
      slowPort = Number(new URL(slow.origin).port);
    });

    /** Writes bytes and keeps the connection open; resolves with what the server wrote and when it closed. */
    const hold = (bytes: string) =>
      new Promise<{ out: string; ms: number }>((resolve, reject) => {
        const started = Date.now();
        const socket = connect(slowPort, '127.0.0.1');
        let out = '';
        const timer = setTimeout(() => socket.destroy(new Error(`still open after 10 s: ${out}`)), 10_000);
        socket.on('data', (d: Buffer) => (out += d.toString('latin1')));
        socket.on('error', reject);
        socket.on('close', () => {
          clearTimeout(timer);
          resolve({ out, ms: Date.now() - started });
        });
        socket.write(bytes);
      });

    it('headers that never end: 408 naming the request after API_HEADERS_TIMEOUT_MS, the connection closed', async () => {
      const res = await hold('GET /api/v1/waves HTTP/1.1\r\nHost: x\r\nX-Slow: a');
      expect(res.out).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
      expect(res.out).toMatch(/\r\ncontent-type: application\/problem\+json; charset=utf-8/i);
      expect(JSON.parse(res.out.split('\r\n\r\n')[1] ?? '')).toMatchObject({ status: 408, field: 'request' });
      expect(res.ms).toBeGreaterThanOrEqual(1000);
      expect(res.ms).toBeLessThan(5000); // node's defaults: 60 s
    });

    it('a body that never ends, from a key holder: 408 after API_REQUEST_TIMEOUT_MS, nothing written', async () => {
      const before = await api.call<unknown[]>('GET', '/waves', { key: 'viewer' });
      const res = await hold(
        `POST /api/v1/waves HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${api.secrets.ops}\r\n` +
          'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"name":',
      );
      expect(res.out).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
      expect(res.ms).toBeGreaterThanOrEqual(2500);
      expect(res.ms).toBeLessThan(7000); // node's defaults: 300 s
      const after = await api.call<unknown[]>('GET', '/waves', { key: 'viewer' });
      expect(after.body).toEqual(before.body);
    });

    it('an idle keep-alive connection is not cut by the headers limit', async () => {
      const socket = connect(slowPort, '127.0.0.1');
      const answers: string[] = [];
      socket.on('data', (d: Buffer) => answers.push(d.toString('latin1')));
      const ask = () => socket.write('GET /api/v1/health/live HTTP/1.1\r\nHost: x\r\n\r\n');
      ask();
      await new Promise((r) => setTimeout(r, 1500)); // idle past the 1 s headers limit, within keep-alive's 5 s
      ask();
      const deadline = Date.now() + 5000;
      while (answers.join('').match(/HTTP\/1\.1 200/g)?.length !== 2 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
      }
      socket.destroy();
      expect(answers.join('').match(/HTTP\/1\.1 \d{3}/g)).toEqual(['HTTP/1.1 200', 'HTTP/1.1 200']);
    });
  });

  it('the API goes on serving afterwards', async () => {
    expect((await api.call('GET', '/waves', { key: 'viewer' })).status).toBe(200);
  });
});
