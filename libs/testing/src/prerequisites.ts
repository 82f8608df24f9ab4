import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import Redis from 'ioredis';
import { Client } from 'pg';

/**
 * What a test needs outside Node (PostgreSQL, Redis, PostgreSQL's server binaries, redis-server, Chromium) and the
 * one line it fails with when that is missing: which piece, where it was looked for, how to provide it. Nothing
 * here skips a test: a missing piece is a failure (CI must run everything), just a legible one.
 */
export class MissingPrerequisite extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MissingPrerequisite';
    // Jest prints an error's stack: without frames it prints the one line, which is the whole story here.
    this.stack = `${this.name}: ${message}`;
  }
}

/**
 * Set by the global setup when its probe found no PostgreSQL / Redis: the line each test file that needs one fails
 * with. The probe does not throw, so the files that need neither (and the unit project) still run.
 */
export const POSTGRES_MISSING_VAR = 'REOPEN_TEST_POSTGRES_MISSING';
export const REDIS_MISSING_VAR = 'REOPEN_TEST_REDIS_MISSING';

const PROBE_TIMEOUT_MS = 3000;

/** A URL fit to print: the password replaced by `***`. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}

function reason(err: unknown): string {
  const e = err as { code?: string; message?: string };
  const text = e.message || e.code || String(err);
  return (e.code && !text.includes(e.code) ? `${e.code} ${text}` : text).replace(/\.$/, '');
}

/** undefined when PostgreSQL answers `SELECT 1` at url, else the one line saying what is missing. */
export async function probePostgres(url: string, variable = 'TEST_DATABASE_URL'): Promise<string | undefined> {
  const c = new Client({ connectionString: url, connectionTimeoutMillis: PROBE_TIMEOUT_MS });
  c.on('error', () => undefined); // a dropped probe connection is reported by the query below
  try {
    await c.connect();
    await c.query('SELECT 1');
    return undefined;
  } catch (err) {
    return (
      `PostgreSQL is needed and did not answer at ${redactUrl(url)} (from ${variable}, else the default): ${reason(err)}. ` +
      `Run the tests through npm test (it starts an embedded PostgreSQL when none answers at the default address ` +
      `and ${variable} is unset), or start one there, or set ${variable} to a server whose role may create ` +
      `databases and roles.`
    );
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** undefined when Redis answers PING at url, else the one line saying what is missing. */
export async function probeRedis(url: string, variable = 'TEST_REDIS_URL'): Promise<string | undefined> {
  // No retries: a probe asks once; the default client would reconnect forever and print every attempt.
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: PROBE_TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  // connect() rejects with a bare "Connection is closed."; the socket's own error (ECONNREFUSED …) says more.
  let socketError: unknown;
  client.on('error', (err) => (socketError ??= err));
  try {
    await client.connect();
    await client.ping();
    return undefined;
  } catch (err) {
    return (
      `Redis is needed and did not answer at ${redactUrl(url)} (from ${variable}, else the default): ${reason(socketError ?? err)}. ` +
      `Run the tests through npm test (it starts redis-server when none answers at the default address and ` +
      `${variable} is unset), or start one there (Debian: apt-get install redis-server), or set ${variable}.`
    );
  } finally {
    client.disconnect();
  }
}

/** Throws the global setup's line when it found no PostgreSQL (call before touching the test server). */
export function requirePostgres(): void {
  const missing = process.env[POSTGRES_MISSING_VAR];
  if (missing) throw new MissingPrerequisite(missing);
}

/** Throws the global setup's line when it found no Redis. */
export function requireRedis(): void {
  const missing = process.env[REDIS_MISSING_VAR];
  if (missing) throw new MissingPrerequisite(missing);
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The full path of an executable found on PATH, or undefined. */
export function findOnPath(command: string, path = process.env.PATH ?? ''): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (dir && executable(join(dir, command))) return join(dir, command);
  }
  return undefined;
}

/** `redis-server` on PATH (the restart tests run a Redis of their own), or the one line saying how to get it. */
export function requireRedisServer(): string {
  const found = findOnPath('redis-server');
  if (!found) {
    throw new MissingPrerequisite(
      `redis-server is needed (this test restarts a Redis of its own) and is not on PATH (${process.env.PATH ?? ''}): ` +
        `install it (Debian: apt-get install redis-server) or add its folder to PATH.`,
    );
  }
  return found;
}

/** Prometheus for the gate tests (Debian's package `prometheus`, which ships promtool too). */
export function requirePrometheus(): string {
  const found = findOnPath('prometheus');
  if (!found) {
    throw new MissingPrerequisite(
      `prometheus is needed (this test runs a Prometheus of its own) and is not on PATH (${process.env.PATH ?? ''}): ` +
        `install it (Debian: apt-get install prometheus; .ci/run does) or add its folder to PATH.`,
    );
  }
  return found;
}

/** Chromium for the browser tests: CHROMIUM_PATH, else Debian's /usr/bin/chromium; the one line when neither is there. */
export function requireChromium(): string {
  const configured = process.env.CHROMIUM_PATH;
  const path = configured || '/usr/bin/chromium';
  if (!existsSync(path) || !executable(path)) {
    throw new MissingPrerequisite(
      `Chromium is needed (browser test) and ${path} ${configured ? '(from CHROMIUM_PATH) ' : ''}is not an executable: ` +
        `install it (Debian: apt-get install chromium) or set CHROMIUM_PATH to a Chromium or Chrome binary.`,
    );
  }
  return path;
}
