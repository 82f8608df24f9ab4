import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(__dirname, '../../..');
/** Ports nothing listens on: what a machine without PostgreSQL or Redis looks like to the tests. */
const NO_POSTGRES = 'postgres://root@127.0.0.1:1/x';
const NO_REDIS = 'redis://127.0.0.1:1';

/**
 * A real Jest run of the given files on a machine without the given services (default: neither), as a newcomer's
 * first `npm test` is; the others are this run's.
 */
function jestWithout(missing: { postgres: boolean; redis: boolean }, project: string, ...files: string[]) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('REOPEN_TEST_')));
  const r = spawnSync(
    process.execPath,
    [join(ROOT, 'node_modules/jest/bin/jest.js'), '--selectProjects', project, '--runTestsByPath', ...files],
    {
      cwd: ROOT,
      env: {
        ...env,
        ...(missing.postgres && { TEST_DATABASE_URL: NO_POSTGRES }),
        ...(missing.redis && { TEST_REDIS_URL: NO_REDIS }),
        CI: 'true',
      },
      encoding: 'utf8',
      timeout: 50_000,
    },
  );
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

describe('a test run without PostgreSQL or Redis says what is missing (real Jest processes)', () => {
  it('runs the unit project all the same: it needs neither service', () => {
    const r = jestWithout({ postgres: true, redis: true }, 'unit', 'libs/domain/src/text.spec.ts');
    expect(r.output).toMatch(/Tests: +\d+ passed, \d+ total/);
    expect(r.output).not.toMatch(/PostgreSQL|Redis|ECONNREFUSED/);
    expect(r.status).toBe(0);
  });

  it('fails a PostgreSQL test with one line naming PostgreSQL, the URL and the variable; no TypeError', () => {
    const r = jestWithout({ postgres: true, redis: true }, 'integration', 'libs/core/src/auth/api-key.int-spec.ts');
    expect(r.status).not.toBe(0);
    expect(r.output).toMatch(
      /^.*PostgreSQL is needed and did not answer at postgres:\/\/root@127\.0\.0\.1:1\/x .*ECONNREFUSED.*set TEST_DATABASE_URL.*$/m,
    );
    expect(r.output).not.toMatch(/TypeError|Connection is closed|\n\s+at /);
    expect(r.output).toMatch(/Tests: +\d+ failed, \d+ total/);
  });

  it('with PostgreSQL but no Redis, fails a Redis test with one line naming Redis, the URL and the variable; no TypeError, no closed connection', () => {
    const r = jestWithout(
      { postgres: false, redis: true },
      'integration',
      'apps/api/src/throttling/redis-throttler.storage.int-spec.ts',
    );
    expect(r.status).not.toBe(0);
    expect(r.output).toMatch(
      /^.*Redis is needed and did not answer at redis:\/\/127\.0\.0\.1:1 .*ECONNREFUSED.*set TEST_REDIS_URL.*$/m,
    );
    expect(r.output).not.toMatch(/TypeError|Connection is closed|\n\s+at /);
    expect(r.output).toMatch(/Tests: +\d+ failed, \d+ total/);
  });
});
