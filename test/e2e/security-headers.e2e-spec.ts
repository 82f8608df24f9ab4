import { Browser, chromium } from 'playwright-core';
import { aWave, requireChromium } from '@app/testing';
import { ApiHarness, startApiHarness } from './api-harness';

/** A CSP header as directive → sources. */
function csp(header: string | null): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const part of (header ?? '').split(';')) {
    const [name, ...sources] = part.trim().split(/\s+/);
    if (name) out[name] = sources;
  }
  return out;
}

describe('response headers: nosniff everywhere, no-store on the API, CSP and no framing on every page', () => {
  let api: ApiHarness;
  let waveId: string;

  beforeAll(async () => {
    api = await startApiHarness('headers');
    await api.h.importPopulation({ count: 5, seed: 3 });
    waveId = (await aWave('w').remaining().protocols('imap').rate(10).create(api.h, 'ops:t')).id;
  });
  afterAll(async () => {
    await api?.close();
  });

  const get = (path: string, headers: Record<string, string> = {}) =>
    fetch(`${api.api.origin}${path}`, { headers: { authorization: `Bearer ${api.secrets.ops}`, ...headers } });

  it.each([
    ['a read', '/api/v1/waves', 200],
    ['a refusal', '/api/v1/waves/not-a-uuid', 400],
    ['an unknown route', '/api/v1/nope', 404],
    ['an unknown path outside the API', '/nope', 404],
    ['an unknown path beside the status page', '/index.html/x', 404],
    ['a bad percent-encoding', '/api/v1/accounts/%FF', 400],
    ['liveness', '/api/v1/health/live', 200],
  ])('API answers (%s): nosniff, no-store, nothing to render, no framing', async (_what, path, status) => {
    const res = await get(path);
    expect(res.status).toBe(status);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    // Terminus answers liveness with `no-cache, no-store, must-revalidate`: no-store all the same.
    expect(res.headers.get('cache-control')).toMatch(/(^|, )no-store(,|$)/);
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    if (status >= 400) expect(res.headers.get('content-type')).toBe('application/problem+json; charset=utf-8');
    expect(csp(res.headers.get('content-security-policy'))).toMatchObject({
      'default-src': ["'none'"],
      'frame-ancestors': ["'none'"],
    });
    expect(res.headers.get('x-powered-by')).toBeNull();
  });

  it('answers without a key too (401) carry them', async () => {
    const res = await fetch(`${api.api.origin}/api/v1/waves`);
    expect(res.status).toBe(401);
    expect([res.headers.get('x-content-type-options'), res.headers.get('cache-control')]).toEqual([
      'nosniff',
      'no-store',
    ]);
  });

  it('progress and history keep their conditional GET under no-store: the ETag, then a 304 on If-None-Match', async () => {
    const first = await get(`/api/v1/waves/${waveId}/progress`);
    expect(first.status).toBe(200);
    expect(first.headers.get('cache-control')).toBe('no-store');
    const etag = first.headers.get('etag')!;
    expect(etag).toMatch(/^W\/".+"$/);
    const again = await get(`/api/v1/waves/${waveId}/progress`, { 'if-none-match': etag });
    expect(again.status).toBe(304);
    expect(again.headers.get('etag')).toBe(etag);
    expect(again.headers.get('cache-control')).toBe('no-store');
    const overview = await get('/api/v1/progress');
    const overviewAgain = await get('/api/v1/progress', { 'if-none-match': overview.headers.get('etag')! });
    expect([overview.status, overviewAgain.status]).toEqual([200, 304]);
    const history = await get(`/api/v1/waves/${waveId}/history`);
    const historyAgain = await get(`/api/v1/waves/${waveId}/history`, {
      'if-none-match': history.headers.get('etag')!,
    });
    expect([history.status, historyAgain.status, historyAgain.headers.get('etag')]).toEqual([
      200,
      304,
      history.headers.get('etag'),
    ]);
  });

  it.each(['/', '/app.js'])('the status page (%s): self-only CSP, no framing, revalidated', async (path) => {
    const res = await fetch(`${api.api.origin}${path}`);
    expect(res.status).toBe(200);
    const policy = csp(res.headers.get('content-security-policy'));
    expect(policy).toMatchObject({ 'default-src': ["'self'"], 'frame-ancestors': ["'none'"] });
    expect(JSON.stringify(policy)).not.toMatch(/unsafe|data:|\*/);
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('cache-control')).toBe('no-cache');
  });

  it.each(['/docs', '/docs/', '/docs/swagger-ui-init.js', '/docs/openapi.json', '/api/v1/docs/'])(
    'the API docs (%s): a CSP that lets Swagger UI run from our own files only, no framing',
    async (path) => {
      const res = await fetch(`${api.api.origin}${path}`);
      expect(res.status).toBe(200);
      const policy = csp(res.headers.get('content-security-policy'));
      expect(policy).toMatchObject({
        'default-src': ["'self'"],
        'frame-ancestors': ["'none'"],
        'object-src': ["'none'"],
        'base-uri': ["'none'"],
      });
      // Inline styles only: no inline or foreign script, no other origin anywhere.
      expect(policy['script-src']).toBeUndefined();
      expect(JSON.stringify(policy)).not.toMatch(/unsafe-eval|https?:|\*/);
      expect(res.headers.get('x-frame-options')).toBe('DENY');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    },
  );

  describe('in Chromium', () => {
    let browser: Browser | undefined;
    beforeAll(async () => {
      browser = await chromium.launch({
        executablePath: requireChromium(),
        headless: true,
        args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking'],
      });
    });
    afterAll(async () => {
      await browser?.close();
    });

    it('Swagger UI renders every operation under its CSP, with no violation reported', async () => {
      const page = await browser!.newPage();
      const problems: string[] = [];
      page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
      page.on('console', (msg) => {
        if (msg.type() === 'error' || /Content Security Policy/i.test(msg.text())) problems.push(msg.text());
      });
      await page.goto(`${api.api.origin}/docs/`);
      await page.locator('.opblock').first().waitFor({ timeout: 20_000 });
      const operations = await page.locator('.opblock').count();
      const documented = Object.values(
        ((await (await fetch(`${api.api.origin}/docs/openapi.json`)).json()) as { paths: Record<string, object> })
          .paths,
      ).reduce((n, ops) => n + Object.keys(ops).length, 0);
      expect(operations).toBe(documented);
      expect(problems).toEqual([]);
      await page.close();
    });

    it('the docs and the status page cannot be framed by another page', async () => {
      const page = await browser!.newPage();
      const blocked: string[] = [];
      page.on('console', (msg) => blocked.push(msg.text()));
      // A page of another origin (about:blank with our pages in frames).
      await page.setContent(
        `<iframe id="docs" src="${api.api.origin}/docs/"></iframe><iframe id="page" src="${api.api.origin}/"></iframe>`,
      );
      await page.waitForTimeout(1000);
      for (const id of ['docs', 'page']) {
        const frame = await (await page.$(`#${id}`))!.contentFrame();
        // A refused frame stays an empty error page: none of our markup in it.
        const html = (await frame?.content()) ?? '';
        expect(html).not.toMatch(/swagger-ui|app\.js/);
      }
      await page.close();
    });
  });
});
