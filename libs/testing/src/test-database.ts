import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { createDataSource } from '../../db/src/data-source';
import { quoteIdent, withDatabase } from '../../db/src/database-url';
import { migrate } from '../../db/src/migrate';
import { runDatabasePrefix, runId, TEMPLATE_DB_VAR, TEST_SERVER_URL } from './test-env';

export interface TestDatabase {
  /** postgres:// URL of this file's own database (give it to child processes as DATABASE_URL). */
  url: string;
  name: string;
  dataSource: DataSource;
  /** Closes the DataSource and drops the database. */
  drop(): Promise<void>;
}

async function admin<T>(fn: (c: Client) => Promise<T>, serverUrl = TEST_SERVER_URL): Promise<T> {
  const c = new Client({ connectionString: serverUrl });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/**
 * A fresh, migrated database for one test file: a clone of the run's template (or, on another server such as
 * a private cluster, a database migrated from scratch). Use in beforeAll; call drop() in afterAll (the global
 * teardown drops leftovers on the shared server anyway).
 */
export async function createTestDatabase(label = 'db', serverUrl?: string): Promise<TestDatabase> {
  const template = process.env[TEMPLATE_DB_VAR];
  if (!template) throw new Error(`${TEMPLATE_DB_VAR} is not set: run tests through jest`);
  const cleanLabel = label
    .replace(/[^a-z0-9]/gi, '')
    .slice(0, 16)
    .toLowerCase();
  const name = `${runDatabasePrefix(runId())}_${cleanLabel}_${randomBytes(3).toString('hex')}`;
  const server = serverUrl ?? TEST_SERVER_URL;
  if (serverUrl) {
    await admin((c) => c.query(`CREATE DATABASE ${quoteIdent(name)}`), server);
    await migrate(withDatabase(server, name));
  } else {
    await admin((c) => c.query(`CREATE DATABASE ${quoteIdent(name)} TEMPLATE ${quoteIdent(template)}`));
  }
  const url = withDatabase(server, name);
  const dataSource = createDataSource({ url, poolSize: 5, applicationName: 'reopen-test', logQueryErrors: false });
  await dataSource.initialize();
  return {
    url,
    name,
    dataSource,
    drop: async () => {
      if (dataSource.isInitialized) await dataSource.destroy();
      await admin((c) => c.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`), server);
    },
  };
}
