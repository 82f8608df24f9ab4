import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import Redis from 'ioredis';
import { Client } from 'pg';
import { requirePostgres, TEST_SERVER_URL } from '@app/testing';

interface Target {
  url: string;
  variable?: string;
}
interface Running {
  postgresUrl: string;
  redisUrl: string;
  lines: string[];
  stop(): void;
}
interface Services {
  preflight(targets: { postgres: Target; redis: Target }): Promise<unknown>;
  bring(plan: unknown): Promise<Running>;
  ServiceError: new (message: string) => Error;
}
const SCRIPT = join(__dirname, '../../../../scripts/services.js');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const services: Services = require(SCRIPT);

/** Nothing listens there: a fresh machine's default addresses, as far as the bootstrap can tell. */
const FRESH = { postgres: { url: 'postgres://root@127.0.0.1:1/postgres' }, redis: { url: 'redis://127.0.0.1:1' } };

async function select1(url: string): Promise<string> {
  const c = new Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  c.on('error', () => undefined);
  try {
    await c.connect();
    return (await c.query<{ v: string }>(`SELECT current_setting('server_version') AS v`)).rows[0].v;
  } finally {
    await c.end().catch(() => undefined); // also after a refused connect: it clears the connect timer
  }
}

async function ping(url: string): Promise<string> {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  r.on('error', () => undefined);
  try {
    await r.connect();
    return await r.ping();
  } finally {
    r.disconnect();
  }
}

/** Nothing listens at the URL's port any more (a refused ioredis connect leaves a timer behind: a raw socket). */
function portClosed(url: string): Promise<boolean> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: u.hostname, port: Number(u.port) });
    socket.once('connect', () => (socket.destroy(), resolve(false)));
    socket.once('error', () => resolve(true));
  });
}

async function refused(fn: () => Promise<unknown>): Promise<boolean> {
  try {
    await fn();
    return false;
  } catch {
    return true;
  }
}

/** The run folders the bootstrap keeps (.reopen/ or, as root in a closed path, the temp one), from its lines. */
function runDirOf(lines: string[]): string {
  const m = / data in (\S+), removed at the end/.exec(lines.join('\n'));
  if (!m) throw new Error(`no data folder in ${JSON.stringify(lines)}`);
  return m[1];
}

describe('the service bootstrap starts what is missing, for real (scripts/services.js)', () => {
  it('nothing at the default addresses: an embedded PostgreSQL and a redis-server, one line each, gone after stop()', async () => {
    const running = await services.bring(await services.preflight(FRESH));
    let stopped = false;
    try {
      expect(running.lines).toEqual([
        expect.stringMatching(
          /^PostgreSQL: none at 127\.0\.0\.1:1 \(the default address\): started embedded PostgreSQL 15\.\d+ on 127\.0\.0\.1:\d+ in [\d.]+ s.*, data in \S+, removed at the end$/,
        ),
        expect.stringMatching(
          /^Redis: none at 127\.0\.0\.1:1 \(the default address\): started \S*redis-server [\d.]+ on 127\.0\.0\.1:\d+, stopped at the end$/,
        ),
      ]);
      expect(await select1(running.postgresUrl)).toMatch(/^15\./);
      // It asks for a password (scram), like a deployment, and the URL carries the run's own.
      expect(new URL(running.postgresUrl).password).toMatch(/.{20,}/);
      const noPassword = new URL(running.postgresUrl);
      noPassword.password = '';
      expect(await refused(() => select1(noPassword.toString()))).toBe(true);
      expect(await ping(running.redisUrl)).toBe('PONG');
      const dir = runDirOf(running.lines);
      expect(existsSync(join(dir, 'pgdata', 'PG_VERSION'))).toBe(true);

      running.stop();
      running.stop(); // idempotent
      stopped = true;
      expect(existsSync(dir)).toBe(false);
      expect(await refused(() => select1(running.postgresUrl))).toBe(true);
      expect(await portClosed(running.redisUrl)).toBe(true);
    } finally {
      if (!stopped) running.stop();
    }
  });

  it('a run that was killed leaves its servers behind: the next run stops them and removes their folder', async () => {
    // A child process brings both, says where, and is SIGKILLed (no exit handler runs).
    const child = spawn(
      process.execPath,
      [
        '-e',
        `const s = require(${JSON.stringify(SCRIPT)});
         s.preflight(${JSON.stringify(FRESH)}).then(s.bring).then((r) =>
           console.log(JSON.stringify({ pg: r.postgresUrl, redis: r.redisUrl, lines: r.lines })));`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const first = await new Promise<string>((resolve) =>
      createInterface({ input: child.stdout }).once('line', resolve),
    );
    const left = JSON.parse(first) as { pg: string; redis: string; lines: string[] };
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const dir = runDirOf(left.lines);
    expect(await select1(left.pg)).toMatch(/^15\./); // still running: nobody stopped it
    expect(await ping(left.redis)).toBe('PONG');

    const next = await services.bring(await services.preflight(FRESH));
    try {
      expect(existsSync(dir)).toBe(false);
      expect(readdirSync(join(dir, '..')).filter((n) => n.startsWith(`run-${child.pid}-`))).toEqual([]);
      expect(await portClosed(left.redis)).toBe(true);
      // PostgreSQL's immediate shutdown takes a moment after SIGQUIT.
      const deadline = Date.now() + 10_000;
      while (!(await refused(() => select1(left.pg))) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 100));
      expect(await refused(() => select1(left.pg))).toBe(true);
    } finally {
      next.stop();
    }
  });

  it('a server that answers but refuses the role: one line naming the role, nothing started', async () => {
    requirePostgres();
    const url = new URL(TEST_SERVER_URL);
    url.username = 'no_such_role_here';
    const target = { postgres: { url: url.toString(), variable: 'TEST_DATABASE_URL' }, redis: FRESH.redis };
    let err: Error | undefined;
    try {
      await services.bring(await services.preflight(target));
    } catch (e) {
      err = e as Error;
    }
    expect(err).toBeInstanceOf(services.ServiceError);
    expect(err!.message).toMatch(
      /^PostgreSQL at [^ ]+ \(from TEST_DATABASE_URL\) refused role "no_such_role_here": .*role "no_such_role_here" does not exist/,
    );
    expect(err!.message).not.toMatch(/\n/);
  });
});
