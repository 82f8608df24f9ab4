import { Client } from 'pg';
import { quoteIdent } from '../../db/src/database-url';
import { POSTGRES_MISSING_VAR } from './prerequisites';
import { RUN_ID_VAR, runDatabasePrefix, TEST_SERVER_URL } from './test-env';

/** Drops every database this run created (template and per-file clones). */
export default async function globalTeardown(): Promise<void> {
  const id = process.env[RUN_ID_VAR];
  // Without PostgreSQL there is nothing to drop, and the setup has already said why.
  if (!id || process.env.KEEP_TEST_DATABASES || process.env[POSTGRES_MISSING_VAR]) return;
  const admin = new Client({ connectionString: TEST_SERVER_URL });
  await admin.connect();
  try {
    const dbs = await admin.query<{ datname: string }>(
      'SELECT datname FROM pg_database WHERE starts_with(datname, $1)',
      [runDatabasePrefix(id)],
    );
    for (const { datname } of dbs.rows) {
      await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(datname)} WITH (FORCE)`);
    }
  } finally {
    await admin.end();
  }
}
