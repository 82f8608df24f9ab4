import { randomBytes } from 'node:crypto';
import { withUser } from '../../db/src/database-url';

/**
 * Where tests find the real services. Override with TEST_DATABASE_URL (any database on the server:
 * tests only use it to reach the server) and TEST_REDIS_URL.
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
