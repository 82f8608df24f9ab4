import { randomBytes } from 'node:crypto';
import { withUser } from '../../db/src/database-url';

/**
 * Where tests find the real services, and every environment variable the tests read (README, "Tests"):
 * - TEST_DATABASE_URL (default postgres://root@127.0.0.1:5432/postgres): any database on the PostgreSQL server the
 *   integration, contract and e2e tests use; its role must be able to create databases and roles.
 * - TEST_REDIS_URL (default redis://127.0.0.1:6379): the Redis they use, each file under its own key prefix.
 * - CHROMIUM_PATH (default /usr/bin/chromium): the browser of the status-page and security-header e2e tests.
 * - KEEP_TEST_DATABASES: when set, the global teardown leaves the run's databases for inspection.
 * - MAILSTORE_URL, MAILSTORE_TOKEN, MAILSTORE_TEST_ACCOUNTS, MAILSTORE_READONLY_TOKEN: run the contract suite against
 *   another implementation (test/contract/contract-target.ts).
 * - WAVE_MODEL_LOG=1: the model-based wave test prints the command sequences it runs.
 * - UPDATE_OPENAPI=1: the OpenAPI unit test rewrites the committed document instead of comparing with it.
 * - POSTGRES_BIN_DIR: initdb/pg_ctl for the tests that run a cluster of their own (else Debian's /usr/lib/postgresql,
 *   else PATH).
 * - TEST_MYSQL_URL (default mysql://root@127.0.0.1:3306/mysql): the MariaDB/MySQL of the dovecot-sql driver tests
 *   (passdb-database.ts); DOVECOT_BIN (default /usr/sbin/dovecot): their private Dovecot (private-dovecot.ts).
 * npm test (scripts/run-tests.js) sets the first two to the servers it found or started, and POSTGRES_BIN_DIR to the
 * embedded PostgreSQL's binaries (scripts/services.js). The unit project reads none of the service variables: it runs
 * with no PostgreSQL and no Redis. PATH must hold redis-server for the Redis restart test; a missing piece fails its
 * test with one line (see prerequisites.ts).
 */
export const TEST_SERVER_URL = process.env.TEST_DATABASE_URL ?? 'postgres://root@127.0.0.1:5432/postgres';
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * The runtime role the services under test connect as (the API, the worker, the services a test builds), so the
 * whole suite proves its grants are enough. Roles are cluster-wide: every run shares this one; migrate creates it
 * when it is missing and grants it its privileges in each database it migrates (clones inherit them).
 */
export const TEST_RUNTIME_ROLE = 'reopen_test_app';
/**
 * Its password, for a test server that asks for one (the compose PostgreSQL); trust authentication ignores it. Not a
 * secret: the role exists for tests only and can do nothing outside the test databases it is granted.
 */
export const TEST_RUNTIME_PASSWORD = 'reopen-test-app';

/** A test database's URL as the runtime role. */
export function testRuntimeUrl(ownerUrl: string): string {
  return withUser(ownerUrl, TEST_RUNTIME_ROLE, TEST_RUNTIME_PASSWORD);
}

/** Set by the global setup: the run's id and its migrated template database. */
export const RUN_ID_VAR = 'REOPEN_TEST_RUN_ID';
export const TEMPLATE_DB_VAR = 'REOPEN_TEST_TEMPLATE_DB';

export function runId(): string {
  const id = process.env[RUN_ID_VAR];
  if (!id) throw new Error(`${RUN_ID_VAR} is not set: run tests through jest (its global setup sets it)`);
  return id;
}

export function newRunId(): string {
  return `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
}

/** Every database a run creates starts with this, so the teardown (or a later run) can find leftovers. */
export function runDatabasePrefix(id: string): string {
  return `reopen_test_${id}`;
}
