import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import {
  createTestDatabase,
  freeLoopbackPort,
  pollUntil,
  PrivateRedis,
  TestDatabase,
  WorkerProcess,
} from '@app/testing';
import { ensureFreshBuild } from './api-process';

const ROOT = join(__dirname, '../..');

/** docker-compose.yml's healthcheck of the worker: `['CMD', 'node', <script>, …]`. */
function composeWorkerHealthcheck(): string[] {
  const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
    services: { worker: { healthcheck: { test: string[] } } };
  };
  const [kind, program, ...args] = compose.services.worker.healthcheck.test;
  expect([kind, program]).toEqual(['CMD', 'node']);
  return args;
}

/** Runs the healthcheck as Docker does (from the image's WORKDIR, here the checkout): its exit code and its line. */
function healthcheck(port: number, cwd = ROOT): Promise<{ code: number; line: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      composeWorkerHealthcheck(),
      { cwd, env: { ...process.env, WORKER_HEALTH_PORT: String(port) }, timeout: 15_000 },
      (err, stdout) => resolve({ code: err ? Number(err.code ?? 1) : 0, line: stdout.trim() }),
    );
  });
}

/**
 * The worker's healthcheck (issue 16): the command docker-compose.yml runs in the worker's container, against a real
 * worker process. Healthy while it runs with PostgreSQL and Redis; unhealthy, naming Redis, while its Redis is down
 * (and healthy again when Redis returns, without a restart); unhealthy when the worker is frozen or stopped.
 */
describe("the worker's healthcheck, as docker-compose.yml runs it", () => {
  let db: TestDatabase;
  let redis: PrivateRedis;
  let worker: WorkerProcess | undefined;
  let port: number;

  beforeAll(async () => {
    ensureFreshBuild();
    db = await createTestDatabase('workerhealth');
    redis = await PrivateRedis.reserve();
    await redis.start();
    port = await freeLoopbackPort();
    worker = await WorkerProcess.start({
      DATABASE_URL: db.url,
      REDIS_URL: redis.url,
      REDIS_PREFIX: `worker-health-${process.pid}`,
      MAILSTORE_URL: 'http://127.0.0.1:9/v1', // nothing there: the worker starts anyway, and readiness ignores it
      WORKER_HEALTH_PORT: String(port),
      LOG_LEVEL: 'info',
    });
  });
  afterAll(async () => {
    await worker?.kill();
    await redis?.stop();
    await db?.drop();
  });

  it('is healthy while the worker runs with PostgreSQL and Redis, and says what it checked', async () => {
    expect(worker!.output()).toContain(`"healthPort":${port}`);
    expect(await healthcheck(port)).toEqual({ code: 0, line: 'worker ready: database up, redis up, queues up' });
    const live = await fetch(`http://127.0.0.1:${port}/health/live`);
    expect(live.status).toBe(200);
    expect(await live.json()).toEqual({ status: 'ok' });
    const ready = await fetch(`http://127.0.0.1:${port}/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({
      status: 'ok',
      checks: { database: { status: 'up' }, redis: { status: 'up' }, queues: { status: 'up' } },
    });
    expect((await fetch(`http://127.0.0.1:${port}/health/nope`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${port}/health/ready`, { method: 'POST' })).status).toBe(405);
  });

  it('is unhealthy, naming Redis, while Redis is down, and healthy again when it returns (no restart)', async () => {
    await redis.stop();
    const down = await pollUntil(
      async () => {
        const r = await healthcheck(port);
        return r.code !== 0 && r;
      },
      { timeoutMs: 10_000, description: 'the healthcheck fails with Redis down' },
    );
    expect(down.code).toBe(1);
    expect(down.line).toMatch(
      /^worker not ready: HTTP 503: database up, redis down \(not connected \(\w+\)\), queues up$/,
    );
    const ready = await fetch(`http://127.0.0.1:${port}/health/ready`);
    expect(ready.status).toBe(503);
    expect(ready.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await ready.json()).toMatchObject({
      status: 503,
      code: 'not_ready',
      checks: { database: { status: 'up' }, redis: { status: 'down' } },
    });
    // Liveness stays up: the worker reconnects by itself, and a restart would not bring Redis back.
    expect((await fetch(`http://127.0.0.1:${port}/health/live`)).status).toBe(200);
    expect(worker!.alive).toBe(true);

    await redis.start();
    await pollUntil(async () => (await healthcheck(port)).code === 0, {
      timeoutMs: 15_000,
      description: 'the healthcheck passes again once Redis is back',
    });
    expect(worker!.output()).toMatch(/"dependency":"redis","state":"recovered"/);
  });

  it('is unhealthy while the worker is frozen (no answer within the probe timeout), healthy once it runs again', async () => {
    worker!.freeze();
    try {
      expect(await healthcheck(port)).toEqual({
        code: 1,
        line: `worker not answering on 127.0.0.1:${port} (TimeoutError)`,
      });
    } finally {
      worker!.thaw();
    }
    await pollUntil(async () => (await healthcheck(port)).code === 0, {
      timeoutMs: 10_000,
      description: 'healthy once thawed',
    });
  });

  it('is unhealthy once the worker is stopped', async () => {
    const exited = once(worker!.child, 'exit');
    worker!.child.kill('SIGTERM');
    const [code] = (await exited) as [number | null];
    expect(code).toBe(0); // an orderly shutdown
    expect(await healthcheck(port)).toEqual({
      code: 1,
      line: `worker not answering on 127.0.0.1:${port} (ECONNREFUSED)`,
    });
  });
});
