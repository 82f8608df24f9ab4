import { Client } from 'pg';
import { migrate } from '../../db/src/migrate';
import { quoteIdent, withDatabase } from '../../db/src/database-url';
import { newRunId, RUN_ID_VAR, runDatabasePrefix, TEMPLATE_DB_VAR, testRuntimeUrl, TEST_SERVER_URL } from './test-env';

/**
 * Once per Jest run: a migrated template database that each test file clones (CREATE DATABASE … TEMPLATE
 * is a file copy, ~100 ms, grants included), so files never share state. Leftovers of crashed runs older than an hour are dropped.
 */
export default async function globalSetup(): Promise<void> {
  const id = newRunId();
  const template = `${runDatabasePrefix(id)}_template`;
  process.env[RUN_ID_VAR] = id;
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
