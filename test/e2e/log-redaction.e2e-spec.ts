import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { builtWorkerPath, loginRange, pollUntil } from '@app/testing';
import { ApiHarness, startApiHarness } from './api-harness';

/** Planted in every place a secret travels; it must appear in no line either process writes. */
const PLANTED = 'PLANTED-7d1c9e-s3cret';
const SCOPES = ['access:read', 'access:write', 'sessions:revoke'];

/**
 * Logs leak nothing (issue 21): the real API and worker processes, at debug (the most they ever write), get requests
 * carrying a planted secret in a header, in the query string and in the body, support URLs naming an account by its
 * e-mail address, and a wave whose mailstore token is the planted secret. Every line of both processes' stdout and
 * stderr is then searched: the secret and the e-mail addresses are absent, and each request is still logged (masked).
 */
describe('logs leak nothing', () => {
  let api: ApiHarness;
  let worker: ChildProcess;
  const workerOutput: string[] = [];
  const logins = loginRange(1, 40);

  beforeAll(async () => {
    api = await startApiHarness('logredact', {
      accounts: 100,
      // The mailstore token is the planted secret: the worker sends it on every call.
      sim: { tokens: { [PLANTED]: SCOPES } },
      engineEnv: { MAILSTORE_TOKEN: PLANTED, LOG_LEVEL: 'debug' },
    });
    await api.h.importPopulation({ count: 100, seed: 21, leakedShare: 0 });
    worker = spawn(process.execPath, [builtWorkerPath()], {
      env: { PATH: process.env.PATH ?? '', ...api.h.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    for (const stream of [worker.stdout!, worker.stderr!])
      stream.on('data', (d: Buffer) => workerOutput.push(d.toString()));
    await pollUntil(() => workerOutput.join('').includes('"worker ready"') || worker.exitCode !== null, {
      timeoutMs: 20_000,
      description: 'worker ready',
    });
    expect(worker.exitCode).toBeNull();
  });
  afterAll(async () => {
    if (worker && worker.exitCode === null) {
      const exited = once(worker, 'exit');
      worker.kill('SIGKILL');
      await exited;
    }
    await api?.close();
  });

  /** The API's line for a request id (the request log writes one per request). */
  const logged = (id: string) =>
    pollUntil(
      () =>
        api.api.lines
          .map((l) => JSON.parse(l) as { req?: { id?: string; path?: string } })
          .find((l) => l.req?.id === id),
      { description: `the request log line of ${id}` },
    );

  it('logs each request without the secret it carried or the login it named', async () => {
    const sent: [string, number, string][] = [];
    const send = async (id: string, method: string, path: string, options: Parameters<ApiHarness['call']>[2] = {}) => {
      const res = await api.call(method, path, { ...options, headers: { ...options.headers, 'x-request-id': id } });
      sent.push([id, res.status, path]);
      return res;
    };
    // Headers: a bearer token that is no key (401), and a valid key with a cookie and an x-api-key beside it.
    await send('hdr-bearer', 'GET', '/waves', { key: null, headers: { authorization: `Bearer ${PLANTED}` } });
    await send('hdr-cookie', 'GET', '/waves', { headers: { cookie: `session=${PLANTED}`, 'x-api-key': PLANTED } });
    // Query strings: the login-events key (a route that takes its key there) and a token on another route.
    await send('query-key', 'POST', `/login-events?key=${PLANTED}`, { key: null, body: {} });
    await send('query-key-ok', 'POST', `/login-events?key=${api.secrets.signals}`, { key: null, body: {} });
    await send('query-token', 'GET', `/audit?token=${PLANTED}&access_token=${PLANTED}`);
    // Bodies: secret fields the API refuses, and a body that is not JSON at all.
    await send('body-json', 'POST', '/waves', {
      body: { name: 'leak', password: PLANTED, subscription: { url: 'http://hooks', secret: PLANTED } },
    });
    await send('body-raw', 'POST', '/waves', {
      raw: `{"name":"leak","secret":"${PLANTED}"`,
      headers: { 'content-type': 'application/json' },
    });
    // Support URLs naming an account by its e-mail address, raw and encoded, in the path and in a query.
    await send('support-get', 'GET', `/accounts/${logins[6]}`, { key: 'support' });
    await send('support-enable', 'POST', `/accounts/${encodeURIComponent(logins[7])}/enable`, {
      key: 'support',
      body: { reason: `asked by ${logins[9]}`, ticket: 'SUP-21' },
    });
    await send('audit-login', 'GET', `/audit?login=${encodeURIComponent(logins[8])}`, { key: 'support' });
    expect(sent.map(([id, status]) => [id, status])).toEqual([
      ['hdr-bearer', 401],
      ['hdr-cookie', 200],
      ['query-key', 401],
      ['query-key-ok', 202],
      ['query-token', expect.any(Number)],
      ['body-json', 400],
      ['body-raw', 400],
      ['support-get', 200],
      ['support-enable', 202],
      ['audit-login', expect.any(Number)],
    ]);
    for (const [id] of sent) await logged(id);
    expect((await logged('support-get')).req?.path).toBe('/api/v1/accounts/u***@example.test');
    expect((await logged('support-enable')).req?.path).toBe('/api/v1/accounts/u***@example.test/enable');
    expect((await logged('query-key')).req?.path).toBe('/api/v1/login-events');

    // A wave over 40 logins: the worker calls the mailstore with the planted token and logs every job (debug).
    const wave = await api.call<{ id: string }>('POST', '/waves', {
      body: {
        name: 'redaction',
        selector: { type: 'logins', logins },
        protocols: ['imap'],
        ratePerSecond: 500,
        batchSize: 10,
      },
    });
    expect(wave.status).toBe(201);
    expect((await api.call('POST', `/waves/${wave.body.id}/start`)).status).toBe(200);
    await api.h.untilWaveState(wave.body.id, 'completed', { timeoutMs: 60_000 });
    expect(api.h.batchCalls(wave.body.id).length).toBeGreaterThanOrEqual(4); // the token really travelled
    await pollUntil(() => workerOutput.join('').includes('"job done"'), { description: "the worker's debug lines" });

    // Everything both processes wrote, once they have stopped (nothing left in a buffer).
    await api.api.stop();
    const workerExited = once(worker, 'exit');
    worker.kill('SIGTERM');
    await workerExited;
    const all = [...api.api.lines, ...api.api.stderr, ...workerOutput].join('\n');
    expect(all.length).toBeGreaterThan(1000);
    expect(all).not.toContain(PLANTED);
    expect(all).not.toContain(encodeURIComponent(PLANTED));
    // No login in full, raw or URL-encoded, from either process.
    expect(all).not.toMatch(/user\d+@example\.test|user\d+%40example\.test/);
  });
});
