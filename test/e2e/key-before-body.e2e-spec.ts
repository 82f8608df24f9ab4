import { connect } from 'node:net';
import { ApiHarness, startApiHarness } from './api-harness';

const PROBLEM = 'application/problem+json; charset=utf-8';
/** Not JSON: the parsers refuse it with 400 invalid_body, so an answer of 401 says they never read it. */
const BROKEN = '{"name": "w", "protocols": [';

/**
 * A body is read for a caller with a key, never before (auth/key-before-body.ts): an anonymous client must not make the
 * API inflate and parse megabytes of JSON per request, as it could while the guard ran after the parsers.
 */
describe('the key is checked before a body is read', () => {
  let api: ApiHarness;
  let port: number;

  beforeAll(async () => {
    api = await startApiHarness('keybody', { accounts: 5 });
    port = Number(new URL(api.api.origin).port);
  });
  afterAll(async () => {
    await api?.close();
  });

  const post = (path: string, body: string, key?: string) =>
    fetch(`${api.api.origin}/api/v1${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
      body,
    });

  it('no key, or an unknown or revoked one: the guard’s 401, not the parser’s 400', async () => {
    const none = await post('/waves', BROKEN);
    expect(none.status).toBe(401);
    expect(none.headers.get('content-type')).toBe(PROBLEM);
    expect(await none.json()).toMatchObject({ status: 401, detail: 'send an API key: Authorization: Bearer <key>' });
    const revoked = await post('/waves', BROKEN, api.secrets.revoked);
    expect(revoked.status).toBe(401);
    expect(await revoked.json()).toMatchObject({ detail: 'the API key is unknown or revoked' });
    const unknown = await post('/waves', BROKEN, 'rk_ops_000000_not-a-key');
    expect(unknown.status).toBe(401);
    // A key the verifier accepts still gets the parser's answer, then the guard's role check.
    const ops = await post('/waves', BROKEN, api.secrets.ops);
    expect(ops.status).toBe(400);
    expect(await ops.json()).toMatchObject({ field: 'body' });
    const viewer = await post('/waves', '{}', api.secrets.viewer);
    expect(viewer.status).toBe(403);
    // Refused before routing, still counted under the route it was sent to.
    const metrics = await (
      await fetch(`${api.api.origin}/api/v1/metrics`, { headers: { authorization: `Bearer ${api.secrets.ops}` } })
    ).text();
    expect(metrics).toMatch(
      /reopen_api_request_duration_seconds_count\{method="POST",route="\/api\/v1\/waves",status="401"\} 3/,
    );
  });

  it('answers 401 and closes the connection while the upload is still arriving', async () => {
    // 4 MB announced, 40 bytes sent: the answer comes without the rest, and the server closes the connection.
    const answer = await new Promise<{ head: string; body: string; closed: boolean }>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1');
      let out = '';
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`no answer before the body: ${JSON.stringify(out)}`));
      }, 5000);
      socket.on('data', (d: Buffer) => (out += d.toString('utf8')));
      socket.on('error', reject);
      socket.on('close', () => {
        clearTimeout(timer);
        const [head, body = ''] = out.split('\r\n\r\n');
        resolve({ head, body, closed: true });
      });
      socket.write(
        'POST /api/v1/waves HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
          `Content-Length: ${4 * 1024 * 1024}\r\n\r\n` +
          '{"name": "w", "logins": ["a@example.test",',
      );
    });
    expect(answer.head).toMatch(/^HTTP\/1\.1 401 /);
    expect(answer.head).toMatch(/\r\nconnection: close/i);
    expect(JSON.parse(answer.body)).toMatchObject({ status: 401 });
  });

  it('an address past its budget gets 429 before its body is read', async () => {
    const small = await api.startAnotherApi({ API_PREAUTH_LIMIT_PER_MINUTE: '2' });
    try {
      // The ops key's first look-up on this process (charged, then given back): it is known from now on.
      const known = await fetch(`${small.origin}/api/v1/waves`, {
        headers: { authorization: `Bearer ${api.secrets.ops}` },
      });
      expect(known.status).toBe(200);
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) {
        const res = await fetch(`${small.origin}/api/v1/waves`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: BROKEN,
        });
        statuses.push(res.status);
        if (res.status === 429) expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      }
      expect(statuses).toEqual([401, 401, 429, 429]);
      // A key this process knows is not charged, whatever the address spent.
      const ops = await fetch(`${small.origin}/api/v1/waves`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${api.secrets.ops}` },
        body: BROKEN,
      });
      expect(ops.status).toBe(400);
    } finally {
      await small.stop();
    }
  });

  it('the login events take their key from the URL, as the guard reads it there', async () => {
    const url = (key?: string) => `/login-events${key ? `?key=${encodeURIComponent(key)}` : ''}`;
    expect((await post(url(), BROKEN)).status).toBe(401);
    expect((await post(url(api.secrets.revoked), BROKEN)).status).toBe(401);
    const signals = await post(url(api.secrets.signals), BROKEN);
    expect(signals.status).toBe(400);
    // Requests without a body are the guard's alone, as before.
    const get = await fetch(`${api.api.origin}/api/v1/waves`);
    expect(get.status).toBe(401);
  });
});
