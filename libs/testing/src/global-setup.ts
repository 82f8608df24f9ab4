import { Client } from 'pg';
import { migrate } from '../../db/src/migrate';
import { quoteIdent, withDatabase } from '../../db/src/database-url';
import { POSTGRES_MISSING_VAR, probePostgres, probeRedis, REDIS_MISSING_VAR } from './prerequisites';
import {
  newRunId,
  RUN_ID_VAR,
  runDatabasePrefix,
  TEMPLATE_DB_VAR,
  testRuntimeUrl,
  TEST_REDIS_URL,
  TEST_SERVER_URL,
} from './test-env';

/**
 * Once per Jest run that selects a project needing services (jest.config.js; the unit project has none): a migrated
 * template database that each test file clones (CREATE DATABASE … TEMPLATE is a file copy, ~100 ms, grants
 * included), so files never share state. Leftovers of crashed runs older than an hour are dropped.
 *
 * PostgreSQL and Redis are probed first. A missing one does not abort the run: the setup prints one line, and each
 * test file that needs it fails with that line (prerequisites.ts), while the files that do not need it still run.
 */
export default async function globalSetup(): Promise<void> {
  const id = newRunId();
  process.env[RUN_ID_VAR] = id;
  const [pgMissing, redisMissing] = await Promise.all([probePostgres(TEST_SERVER_URL), probeRedis(TEST_REDIS_URL)]);
  for (const [variable, missing] of [
    [POSTGRES_MISSING_VAR, pgMissing],
    [REDIS_MISSING_VAR, redisMissing],
  ] as const) {
    if (missing) {
      process.env[variable] = missing;
      process.stderr.write(`\n${missing}\n`);
    } else {
      delete process.env[variable]; // never inherit an outer run's verdict (a test that spawns Jest)
    }
  }
  if (pgMissing) return;
  const template = `${runDatabasePrefix(id)}_template`;
  process.env[TEMPLATE_DB_VAR] = template;

  const admin = new Client({ connectionString: TEST_SERVER_URL });
  await admin.connect();
  try {
    const stale = await admin.query<{ datname: string }>(
      `SELECT datname FROM pg_database WHERE datname LIKE 'reopen\\_test\\_%'
         AND (pg_stat_file('base/' || oid || '/PG_VERSION')).modification < now() - interval '1 hour'`,
    );
    for (const { datname } of stale.rows) {
      await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(datname)} WITH (FORCE)`);
    }
  } catch {
    // pg_stat_file needs superuser; without it leftovers stay until someone drops them.
  } finally {
    await admin.end();
  }
  const templateUrl = withDatabase(TEST_SERVER_URL, template);
  // Owner: the test server's admin; runtime role: TEST_RUNTIME_ROLE, its grants copied into every clone.
  await migrate(templateUrl, testRuntimeUrl(templateUrl));
}
