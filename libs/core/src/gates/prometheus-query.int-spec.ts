import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { freeLoopbackPort, PrivatePrometheus } from '@app/testing';
import { queryPrometheus } from './prometheus-query';

describe('queryPrometheus (a real Prometheus, Debian package)', () => {
  let prom: PrivatePrometheus;
  const ask = (query: string, timeoutMs = 5000) => queryPrometheus(query, { baseUrl: prom.url, timeoutMs });

  beforeAll(async () => {
    prom = await PrivatePrometheus.create([]);
    await prom.start();
    await prom.untilScraped('prometheus');
  }, 60_000);
  afterAll(async () => {
    await prom?.destroy();
  });

  it('a vector of one sample and a scalar are values', async () => {
    expect(await ask('up{job="prometheus"}')).toEqual({ kind: 'value', value: 1 });
    expect(await ask('vector(0.25)')).toEqual({ kind: 'value', value: 0.25 });
    expect(await ask('scalar(vector(3))')).toEqual({ kind: 'value', value: 3 });
  });

  it('NaN and infinities come back as numbers (the analysis reads them: analysis.ts measure)', async () => {
    expect(await ask('0/0')).toEqual({ kind: 'value', value: NaN });
    expect(await ask('1/0')).toEqual({ kind: 'value', value: Infinity });
    expect(await ask('-1/0')).toEqual({ kind: 'value', value: -Infinity });
  });

  it('an empty vector is empty: no data is not "go"', async () => {
    expect(await ask('dovecot_auth_failures_total{job="none"}')).toEqual({ kind: 'empty' });
  });

  it('several series, a string or a range vector, and a bad query are errors that say why', async () => {
    expect(await ask('vector(1) or label_replace(vector(2), "a", "b", "", "")')).toEqual({
      kind: 'error',
      message: 'the query returned 2 series; aggregate it to one (sum, max)',
    });
    expect(await ask('"text"')).toMatchObject({ kind: 'error', message: expect.stringContaining('a string') });
    expect(await ask('up[1m]')).toMatchObject({ kind: 'error', message: expect.stringContaining('a matrix') });
    expect(await ask('sum(')).toMatchObject({ kind: 'error', message: expect.stringMatching(/^HTTP 400 bad_data: /) });
  });

  it('an unreachable server, a silent one and one that is not Prometheus are errors, never thrown', async () => {
    const closed = await freeLoopbackPort();
    expect(await queryPrometheus('up', { baseUrl: `http://127.0.0.1:${closed}`, timeoutMs: 2000 })).toEqual({
      kind: 'error',
      message: 'unreachable (ECONNREFUSED)',
    });
    const listening = async (s: Server) => (await new Promise((r) => s.listen(0, '127.0.0.1', () => r(null))), s);
    const silent = await listening(createServer(() => undefined));
    const huge = await listening(createServer((_q, res) => res.end('x'.repeat(2 << 20))));
    const html = await listening(createServer((_q, res) => res.end('<html>login</html>')));
    const origin = (s: Server) => `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
    try {
      expect(await queryPrometheus('up', { baseUrl: origin(silent), timeoutMs: 300 })).toEqual({
        kind: 'error',
        message: 'no answer within 300 ms',
      });
      expect(await queryPrometheus('up', { baseUrl: origin(huge), timeoutMs: 5000 })).toEqual({
        kind: 'error',
        message: 'HTTP 200, an answer over 1048576 bytes',
      });
      expect(await queryPrometheus('up', { baseUrl: origin(html), timeoutMs: 5000 })).toEqual({
        kind: 'error',
        message: 'HTTP 200, not a Prometheus answer',
      });
    } finally {
      for (const s of [silent, huge, html]) s.closeAllConnections();
      for (const s of [silent, huge, html]) s.close();
    }
  });

  it('sends the credentials of PROMETHEUS_URL (user:password@host) as HTTP Basic auth, never in the URL', async () => {
    // A Prometheus behind an authenticating proxy (web.config.yml basic_auth_users, a managed service): fetch refuses a
    // URL with credentials outright, so every measurement was an error and every prometheus gate paused its wave.
    const seen: { auth?: string; url?: string }[] = [];
    const proxy = createServer((req, res) => {
      seen.push({ auth: req.headers.authorization, url: req.url });
      const ok = req.headers.authorization === `Basic ${Buffer.from('reopen:p@ss:word').toString('base64')}`;
      res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
      res.end(
        ok
          ? JSON.stringify({ status: 'success', data: { resultType: 'scalar', result: [1, '7'] } })
          : JSON.stringify({ status: 'error', errorType: 'unauthorized', error: 'no' }),
      );
    });
    await new Promise((r) => proxy.listen(0, '127.0.0.1', () => r(null)));
    const { port } = proxy.address() as AddressInfo;
    try {
      const baseUrl = `http://reopen:p%40ss%3Aword@127.0.0.1:${port}/prom`;
      expect(await queryPrometheus('up', { baseUrl, timeoutMs: 5000 })).toEqual({ kind: 'value', value: 7 });
      expect(seen).toEqual([{ auth: expect.stringMatching(/^Basic /), url: '/prom/api/v1/query?query=up' }]);
    } finally {
      proxy.closeAllConnections();
      proxy.close();
    }
  });

  it('a stopped Prometheus is an error', async () => {
    await prom.stop();
    expect(await ask('up', 2000)).toEqual({ kind: 'error', message: 'unreachable (ECONNREFUSED)' });
  });
});
