/**
 * The client against a deliberately hostile HTTP server (node:http), for what the simulator never does:
 * oversized, malformed or misaligned answers, a body that stalls after the headers, HTTP-date Retry-After.
 * Everything contract-shaped is tested against the simulator in mailstore-client.sim.int-spec.ts.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pollUntil } from '@app/testing';
import { MailstoreClient } from './mailstore.client';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}
type Handler = (req: Seen, res: ServerResponse) => void;

let handler: Handler = (_req, res) => res.end();
const seen: Seen[] = [];
const server = createServer((req, res) => {
  let body = '';
  req.on('data', (c: Buffer) => (body += c.toString('utf8')));
  req.on('end', () => {
    const s = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body };
    seen.push(s);
    handler(s, res);
  });
});
let baseUrl: string;
const clients: MailstoreClient[] = [];

function client(extra: Partial<ConstructorParameters<typeof MailstoreClient>[0]> = {}): MailstoreClient {
  const c = new MailstoreClient({ baseUrl, token: 'secret-token', requestTimeoutMs: 1_000, ...extra });
  clients.push(c);
  return c;
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

const A = 'alice+pop@example.test';
const state = { account: A, protocols: { imap: true, pop3: false }, version: 7, updatedAt: '2026-05-09T06:00:00.000Z' };

beforeAll(async () => {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/gw/v1`;
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.destroy()));
  seen.length = 0;
});
afterAll(async () => {
  server.closeAllConnections();
  server.close();
  await once(server, 'close');
});

describe('MailstoreClient against a hostile server', () => {
  it('sends the contract headers, the encoded path under the base path, and only the desired state', async () => {
    handler = (_req, res) => json(res, 200, { ...state, changed: true, sessions: 'none' });
    const out = await client({ userAgent: 'test-agent' }).patchAccess(
      A,
      { protocols: { imap: true }, reason: 'wave-1' },
      { idempotencyKey: 'wave-1/acc-1', ifMatch: 7, requestId: 'req-1' },
    );
    expect(out).toMatchObject({ kind: 'ok', status: 200, replayed: false, value: { changed: true, version: 7 } });
    expect(seen[0]).toMatchObject({
      method: 'PATCH',
      url: '/gw/v1/accounts/alice%2Bpop%40example.test/access',
      headers: {
        authorization: 'Bearer secret-token',
        'idempotency-key': 'wave-1/acc-1',
        'x-request-id': 'req-1',
        'if-match': '"7"',
        'content-type': 'application/json',
        'user-agent': 'test-agent',
      },
    });
    expect(JSON.parse(seen[0].body)).toEqual({ protocols: { imap: true }, reason: 'wave-1' });
  });

  it('reads the ETag of a GET as the version for If-Match', async () => {
    handler = (_req, res) => json(res, 200, { ...state, version: 9 }, { etag: '"12"' });
    expect(await client().getAccess(A)).toMatchObject({ kind: 'ok', value: { version: 9, etag: 12 } });
    expect(seen[0].headers).not.toHaveProperty('idempotency-key');
  });

  it('aborts a response whose declared size exceeds maxResponseBytes: protocol_error', async () => {
    handler = (_req, res) => json(res, 200, { ...state, padding: 'x'.repeat(10_000) });
    const out = await client({ maxResponseBytes: 1_000 }).getAccess(A);
    expect(out).toMatchObject({ kind: 'retryable', code: 'protocol_error', outcomeUnknown: false });
  });

  it('aborts a chunked response that grows past the cap, without reading it all', async () => {
    let closed = false;
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const timer = setInterval(() => res.write('x'.repeat(1_000)), 5);
      res.on('close', () => {
        clearInterval(timer);
        closed = true;
      });
    };
    const out = await client({ maxResponseBytes: 5_000 }).patchAccess(
      A,
      { protocols: { imap: true } },
      { idempotencyKey: 'k' },
    );
    expect(out).toMatchObject({ kind: 'retryable', code: 'protocol_error', outcomeUnknown: true });
    await pollUntil(() => closed, { timeoutMs: 2_000, description: 'the server saw the connection close' });
  });

  it('a malformed 200 is protocol_error: unknown for a write, not for a read', async () => {
    handler = (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"account":');
    const write = await client().patchAccess(A, { protocols: { imap: true } }, { idempotencyKey: 'k' });
    expect(write).toMatchObject({ kind: 'retryable', code: 'protocol_error', outcomeUnknown: true });
    handler = (_req, res) => json(res, 200, { ...state, account: 'someone-else@example.test' });
    expect(await client().getAccess(A)).toMatchObject({
      kind: 'retryable',
      code: 'protocol_error',
      outcomeUnknown: false,
    });
  });

  it('a batch answer that does not line up with the items is protocol_error, outcome unknown', async () => {
    const items = [
      { account: 'a@example.test', protocols: { imap: true } },
      { account: 'b@example.test', protocols: { imap: true }, ifVersion: 3 },
    ];
    handler = (_req, res) =>
      json(res, 200, {
        batchId: 'b',
        results: [{ account: 'a@example.test', status: 'applied', protocols: { imap: true }, version: 2 }],
      });
    const out = await client().batch(items, { reason: 'r' }, { idempotencyKey: 'batch-1' });
    expect(out).toMatchObject({ kind: 'retryable', code: 'protocol_error', outcomeUnknown: true });
    expect(JSON.parse(seen[0].body)).toEqual({ items, reason: 'r' });
  });

  it('a body that stalls after the headers times out within requestTimeoutMs', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"account":');
    };
    const started = Date.now();
    const out = await client({ requestTimeoutMs: 300 }).getAccess(A);
    expect(out).toMatchObject({ kind: 'retryable', code: 'timeout' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(Date.now() - started).toBeLessThan(1_500);
  });

  it("the caller's signal aborts an exchange at once: retryable/aborted", async () => {
    handler = () => undefined;
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const started = Date.now();
    const out = await client({ requestTimeoutMs: 5_000 }).revokeSessions(A, {
      idempotencyKey: 'k',
      signal: controller.signal,
    });
    expect(out).toMatchObject({ kind: 'retryable', code: 'aborted', outcomeUnknown: true });
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('understands an HTTP-date Retry-After on 503', async () => {
    handler = (_req, res) =>
      json(res, 503, { code: 'unavailable' }, { 'retry-after': new Date(Date.now() + 5_000).toUTCString() });
    const out = await client().getAccess(A);
    expect(out.kind).toBe('unavailable');
    expect(out.kind === 'unavailable' && out.retryAfterMs).toBeGreaterThan(3_000);
  });

  it('invalid capabilities are permanent; valid ones are cached until refreshed', async () => {
    handler = (_req, res) => json(res, 200, { maxBatchItems: 'lots' });
    const c = client();
    expect(await c.capabilities()).toMatchObject({ kind: 'permanent', code: 'invalid_capabilities' });
    expect(() => c.batchSizeLimit()).toThrow(/capabilities not loaded/);
    handler = (_req, res) => json(res, 200, { maxBatchItems: 100, propagation: { mode: 'eventual', maxSeconds: 60 } });
    expect(await c.capabilities()).toMatchObject({ kind: 'ok', value: { maxBatchItems: 100 } });
    expect(await c.capabilities()).toMatchObject({ kind: 'ok', value: { maxBatchItems: 100 } });
    expect(seen).toHaveLength(2);
    expect(c.batchSizeLimit()).toBe(100);
    expect(c.propagationDelayMs()).toBe(60_000);
    handler = (_req, res) => json(res, 200, { maxBatchItems: 50 });
    await c.refreshCapabilities();
    expect(c.batchSizeLimit()).toBe(50);
  });

  it('refuses a write without an idempotency key before sending anything', async () => {
    const c = client();
    await expect(c.revokeSessions(A, { idempotencyKey: '' })).rejects.toThrow(TypeError);
    expect(seen).toHaveLength(0);
  });
});
