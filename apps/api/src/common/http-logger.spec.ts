import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import express from 'express';
import pino from 'pino';
import { pollUntil } from '@app/testing';
import { requestMiddlewares } from './http-logger';

describe('request logging', () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  const app = express();
  for (const m of requestMiddlewares(pino({ level: 'info' }, sink))) app.use(m);
  app.use((_req, res) => res.status(404).json({}));
  let server: Server;
  let origin = '';
  beforeAll(async () => {
    server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  it('logs the path, never the query string or the key', async () => {
    await fetch(`${origin}/api/v1/audit?login=alice%40example.test&cursor=123`, {
      headers: { authorization: 'Bearer rk_ops_secret', 'x-request-id': 'log-1' },
    });
    const line = await pollUntil(() => lines.find((l) => l.includes('"log-1"')), { description: 'the log line' });
    expect(JSON.parse(line)).toMatchObject({
      msg: 'request completed',
      req: { id: 'log-1', method: 'GET', path: '/api/v1/audit' },
      res: { statusCode: 404 },
    });
    expect(line).not.toMatch(/alice|cursor|login=|\?|rk_ops_secret/);
  });

  it('masks the login of a support URL, still logging the request', async () => {
    await fetch(`${origin}/api/v1/accounts/alice.martin%40example.test/enable`, {
      method: 'POST',
      headers: { 'x-request-id': 'log-2' },
    });
    const line = await pollUntil(() => lines.find((l) => l.includes('"log-2"')), { description: 'the log line' });
    expect(JSON.parse(line)).toMatchObject({
      req: { method: 'POST', path: '/api/v1/accounts/a***@example.test/enable' },
    });
    expect(line).not.toMatch(/alice|martin/);
  });

  it('does not log liveness probes, whatever their query', async () => {
    await fetch(`${origin}/api/v1/health/live?probe=1`, { headers: { 'x-request-id': 'live-1' } });
    await fetch(`${origin}/x`, { headers: { 'x-request-id': 'after-live' } });
    await pollUntil(() => lines.find((l) => l.includes('"after-live"')), { description: 'the next line' });
    expect(lines.some((l) => l.includes('"live-1"'))).toBe(false);
  });
});
