import { createServer } from 'node:net';
import { once } from 'node:events';
import { isOperatorFix } from '@app/config';
import { runChecks, startHealthServer } from './worker-health';

describe('the worker health listener', () => {
  it('counts a check that does not answer in time as down, and runs the checks at once', async () => {
    const started = Date.now();
    const report = await runChecks(
      {
        database: async () => {},
        redis: () => new Promise<void>(() => {}), // a PING queued behind a dead connection never settles
        queues: async () => {
          throw new Error('stopping\nsecond line');
        },
      },
      100,
    );
    expect(report).toEqual({
      ok: false,
      checks: {
        database: { status: 'up' },
        redis: { status: 'down', message: 'no answer within 100 ms' },
        queues: { status: 'down', message: 'stopping' },
      },
    });
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('answers live at once, ready from the checks, and nothing else, over real HTTP', async () => {
    let ok = true;
    const server = await startHealthServer(0, {
      ready: () =>
        runChecks({
          redis: async () => {
            if (!ok) throw new Error('not connected (reconnecting)');
          },
        }),
    });
    try {
      const base = `http://127.0.0.1:${server.port}`;
      expect(await (await fetch(`${base}/health/live`)).json()).toEqual({ status: 'ok' });
      expect(await (await fetch(`${base}/health/ready?verbose=1`)).json()).toEqual({
        status: 'ok',
        checks: { redis: { status: 'up' } },
      });
      ok = false;
      const down = await fetch(`${base}/health/ready`);
      expect(down.status).toBe(503);
      expect(await down.json()).toEqual({
        type: 'urn:reopen:problem:not_ready',
        title: 'Service Unavailable',
        status: 503,
        code: 'not_ready',
        detail: 'a dependency is down',
        checks: { redis: { status: 'down', message: 'not connected (reconnecting)' } },
      });
      expect((await fetch(`${base}/health/live`)).status).toBe(200);
      const post = await fetch(`${base}/health/live`, { method: 'POST' });
      expect([post.status, post.headers.get('allow')]).toEqual([405, 'GET, HEAD']);
      expect((await fetch(`${base}/metrics`)).status).toBe(404);
    } finally {
      await server.close();
    }
  });

  it('refuses a port in use in one line an operator acts on', async () => {
    const taken = createServer().listen(0, '0.0.0.0');
    await once(taken, 'listening');
    const port = (taken.address() as { port: number }).port;
    try {
      const err = await startHealthServer(port, { ready: () => runChecks({}) }).catch((e: unknown) => e);
      expect(isOperatorFix(err)).toBe(true);
      expect((err as Error).message).toBe(
        `WORKER_HEALTH_PORT ${port}: EADDRINUSE (another process listens on it): choose another port`,
      );
    } finally {
      taken.close();
    }
  });
});
