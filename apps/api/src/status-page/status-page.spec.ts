import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import express from 'express';
import { statusPage, statusPageDir } from './status-page';

describe('status page', () => {
  const dir = statusPageDir();
  const app = express()
    .use(statusPage(dir))
    .use((_req, res) => res.status(404).send('api'));
  let server: Server;
  let origin = '';
  beforeAll(async () => {
    server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  it('serves index.html at / without a key, under a self-only CSP', async () => {
    const res = await fetch(`${origin}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toMatch(/^default-src 'self'(;|$)/);
    expect(csp).toMatch(/(^|;)frame-ancestors 'none'(;|$)/);
    expect(csp).not.toMatch(/unsafe-|\*|https?:|data:/);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect(await res.text()).toContain('<script src="app.js" defer></script>');
  });

  it('leaves other paths and methods to the API', async () => {
    expect((await fetch(`${origin}/api/v1/progress`)).status).toBe(404);
    expect((await fetch(`${origin}/`, { method: 'POST' })).status).toBe(404);
  });

  it('keeps markup free of what the CSP would block: inline scripts, handlers, style attributes, other origins', () => {
    const html = readFileSync(join(dir, 'index.html'), 'utf8');
    expect(html).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/);
    expect(html).not.toMatch(/\son[a-z]+=/i);
    expect(html).not.toMatch(/\sstyle=/i);
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
  });
});
