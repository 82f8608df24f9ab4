import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

interface Target {
  url: string;
  variable?: string;
}
interface Plan {
  postgres: { action: 'use' | 'embedded' };
  redis: { action: 'use' | 'start' | 'apt'; binary?: string };
}
interface Services {
  preflight(
    targets: { postgres: Target; redis: Target },
    options?: { path?: string; root?: boolean; debian?: boolean; redisVariables?: string[] },
  ): Promise<Plan>;
  describePlan(plan: Plan): string[];
  testTargets(env: Record<string, string | undefined>): { postgres: Target; redis: Target };
  ServiceError: new (message: string) => Error;
}
// scripts/services.js is plain JavaScript (it runs before anything is installed): loaded as npm test and the demo load it.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const services: Services = require(join(__dirname, '../../../../scripts/services.js'));

/** Addresses where nothing listens: what a fresh machine looks like at the default ones. */
const NOTHING_PG = 'postgres://root@127.0.0.1:1/postgres';
const NOTHING_REDIS = 'redis://127.0.0.1:1';
const emptyPath = mkdtempSync(join(tmpdir(), 'reopen-bootstrap-'));

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

describe('the service bootstrap: what it decides before anything is installed (scripts/services.js)', () => {
  it('reads TEST_DATABASE_URL / TEST_REDIS_URL for the tests, else the default addresses (no variable named)', () => {
    expect(services.testTargets({})).toEqual({
      postgres: { url: 'postgres://root@127.0.0.1:5432/postgres', variable: undefined },
      redis: { url: 'redis://127.0.0.1:6379', variable: undefined },
    });
    expect(services.testTargets({ TEST_DATABASE_URL: 'postgres://a@b/c', TEST_REDIS_URL: 'redis://d' })).toEqual({
      postgres: { url: 'postgres://a@b/c', variable: 'TEST_DATABASE_URL' },
      redis: { url: 'redis://d', variable: 'TEST_REDIS_URL' },
    });
  });

  it('nothing at the default addresses: an embedded PostgreSQL, and redis-server from PATH on a port of its own', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'reopen-bootstrap-'));
    writeFileSync(join(dir, 'redis-server'), '#!/bin/sh\n', { mode: 0o755 });
    const plan = await services.preflight(
      { postgres: { url: NOTHING_PG }, redis: { url: NOTHING_REDIS } },
      { path: `${emptyPath}:${dir}`, root: false, debian: false },
    );
    expect(plan).toMatchObject({
      postgres: { action: 'embedded' },
      redis: { action: 'start', binary: join(dir, 'redis-server') },
    });
    expect(services.describePlan(plan)).toEqual([
      'PostgreSQL: none at 127.0.0.1:1 (the default address): an embedded one will be started',
      `Redis: none at 127.0.0.1:1 (the default address): ${join(dir, 'redis-server')} will be started`,
    ]);
  });

  it('no redis-server anywhere: as root on Debian it will be installed, otherwise one line per platform', async () => {
    const targets = { postgres: { url: NOTHING_PG }, redis: { url: NOTHING_REDIS } };
    const apt = await services.preflight(targets, { path: emptyPath, root: true, debian: true });
    expect(apt.redis).toEqual({ action: 'apt' });

    for (const options of [
      { root: false, debian: true },
      { root: true, debian: false },
    ]) {
      const err = await rejection(services.preflight(targets, { path: emptyPath, ...options }));
      expect(err).toBeInstanceOf(services.ServiceError);
      const lines = err.message.split('\n');
      expect(lines[0]).toMatch(/^Redis: nothing answers at 127\.0\.0\.1:1 .*redis-server is not on PATH.*REDIS_URL/);
      expect(lines.slice(1).map((l) => l.trim().split(':')[0])).toEqual([
        'Debian/Ubuntu',
        'Fedora/RHEL',
        'Alpine',
        'Arch',
        'macOS',
      ]);
      expect(lines[1]).toMatch(/apt-get install redis-server$/);
    }
  });

  it('an address that was configured is never replaced: nothing there is one line naming the variable', async () => {
    const err = await rejection(
      services.preflight(
        {
          postgres: { url: 'postgres://me:secret@127.0.0.1:1/db', variable: 'DATABASE_URL' },
          redis: { url: NOTHING_REDIS, variable: 'REDIS_URL' },
        },
        { path: emptyPath, root: false, debian: false },
      ),
    );
    expect(err).toBeInstanceOf(services.ServiceError);
    expect(err.message.split('\n')).toEqual([
      expect.stringMatching(
        /^PostgreSQL: nothing answers at 127\.0\.0\.1:1 \(from DATABASE_URL\)\..*unset DATABASE_URL/,
      ),
      expect.stringMatching(/^Redis: nothing answers at 127\.0\.0\.1:1 \(from REDIS_URL\)\..*unset REDIS_URL/),
    ]);
    expect(err.message).not.toContain('secret');
  });

  it('what answers is used as it is', async () => {
    // A listening socket is all the preflight asks (the real SELECT 1 / PING come after npm ci).
    const server = createServer((s) => s.destroy());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      const plan = await services.preflight(
        {
          postgres: { url: `postgres://root@127.0.0.1:${port}/postgres` },
          redis: { url: `redis://127.0.0.1:${port}` },
        },
        { path: emptyPath, root: false, debian: false },
      );
      expect(plan).toMatchObject({ postgres: { action: 'use' }, redis: { action: 'use' } });
      expect(services.describePlan(plan)).toEqual([
        `PostgreSQL: found at 127.0.0.1:${port} (the default address)`,
        `Redis: found at 127.0.0.1:${port} (the default address)`,
      ]);
    } finally {
      server.close();
    }
  });
});
