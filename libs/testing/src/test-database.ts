import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { createDataSource, hearEveryConnectionError } from '../../db/src/data-source';
import { quoteIdent, withDatabase } from '../../db/src/database-url';
import { migrate } from '../../db/src/migrate';
import { requirePostgres } from './prerequisites';
import { runDatabasePrefix, runId, TEMPLATE_DB_VAR, TEST_SERVER_URL, testRuntimeUrl } from './test-env';

export interface TestDatabase {
  /**
   * postgres:// URL of this file's own database as the runtime role (TEST_RUNTIME_ROLE): give it to child processes
   * as DATABASE_URL, as a deployment gives it to the API and the worker.
   */
  url: string;
  /** The same database as its owner (the test server's admin): what `migrate` and the API-key commands use. */
  ownerUrl: string;
  name: string;
  /** Connected as the runtime role: build the services under test on it, so the tests prove its grants suffice. */
  dataSource: DataSource;
  /** Connected as the owner: for fixtures the service may not do itself (API keys, TRUNCATE, ANALYZE). */
  owner: DataSource;
  /** Closes the DataSources and drops the database. */
  drop(): Promise<void>;
}

/** One client on `url` for the length of `fn`, closed however `fn` ends (the tests' and the benches' fixtures). */
export async function withPgClient<T>(url: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

function admin<T>(fn: (c: Client) => Promise<T>, serverUrl = TEST_SERVER_URL): Promise<T> {
  return withPgClient(serverUrl, fn);
}

/**
 * A fresh, migrated database for one test file: a clone of the run's template (or, on another server such as
 * a private cluster, a database migrated from scratch). Use in beforeAll; call drop() in afterAll (the global
 * teardown drops leftovers on the shared server anyway).
 */
export async function createTestDatabase(label = 'db', serverUrl?: string): Promise<TestDatabase> {
  // A private server (serverUrl) needs no template, so only the shared one's absence stops it.
  if (!serverUrl) requirePostgres();
  const template = process.env[TEMPLATE_DB_VAR];
  if (!serverUrl && !template) throw new Error(`${TEMPLATE_DB_VAR} is not set: run tests through jest`);
  const cleanLabel = label
    .replace(/[^a-z0-9]/gi, '')
    .slice(0, 16)
    .toLowerCase();
  const name = `${runDatabasePrefix(runId())}_${cleanLabel}_${randomBytes(3).toString('hex')}`;
  const server = serverUrl ?? TEST_SERVER_URL;
  const ownerUrl = withDatabase(server, name);
  const url = testRuntimeUrl(ownerUrl);
  if (serverUrl) {
    await admin((c) => c.query(`CREATE DATABASE ${quoteIdent(name)}`), server);
    await migrate(ownerUrl, url);
  } else {
    await admin((c) => c.query(`CREATE DATABASE ${quoteIdent(name)} TEMPLATE ${quoteIdent(template!)}`));
  }
  const dataSource = createDataSource({ url, poolSize: 5, applicationName: 'reopen-test', logQueryErrors: false });
  const owner = createDataSource({
    url: ownerUrl,
    poolSize: 2,
    applicationName: 'reopen-test-owner',
    logQueryErrors: false,
  });
  await Promise.all([dataSource.initialize(), owner.initialize()]);
  // As the processes' own (openRuntimeDataSource): a spec that ends backends must not end the test process.
  hearEveryConnectionError(dataSource);
  hearEveryConnectionError(owner);
  return {
    url,
    ownerUrl,
    name,
    dataSource,
    owner,
    drop: async () => {
      for (const ds of [dataSource, owner]) if (ds.isInitialized) await ds.destroy();
      await admin((c) => c.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`), server);
    },
  };
}
