import { Client } from 'pg';
import { createDataSource } from './data-source';
import { databaseName, quoteIdent, withDatabase } from './database-url';

/** Creates the database named by `url` when it does not exist yet (via the server's `postgres` database). */
export async function ensureDatabase(url: string): Promise<boolean> {
  const name = databaseName(url);
  const admin = new Client({ connectionString: withDatabase(url, 'postgres') });
  await admin.connect();
  try {
    const found = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount) return false;
    try {
      await admin.query(`CREATE DATABASE ${quoteIdent(name)}`);
    } catch (err) {
      // Two migrators racing: the other one created it (duplicate_database, or the catalog's unique index).
      const code = (err as { code?: string }).code;
      if (code !== '42P04' && code !== '23505') throw err;
      return false;
    }
    return true;
  } finally {
    await admin.end();
  }
}

export interface MigrationReport {
  createdDatabase: boolean;
  applied: string[];
}

/**
 * Applies pending migrations. Safe to run again (applies nothing) and safe to race: an advisory lock
 * serialises concurrent runs, so two processes never apply the same migration.
 */
export async function migrate(url: string): Promise<MigrationReport> {
  const createdDatabase = await ensureDatabase(url);
  const ds = createDataSource({ url, poolSize: 2, applicationName: 'reopen-migrate' });
  await ds.initialize();
  try {
    const runner = ds.createQueryRunner();
    await runner.connect();
    try {
      await runner.query('SELECT pg_advisory_lock(hashtext($1))', ['reopen:migrations']);
      const applied = await ds.runMigrations({ transaction: 'each' });
      await runner.query('SELECT pg_advisory_unlock(hashtext($1))', ['reopen:migrations']);
      return { createdDatabase, applied: applied.map((m) => m.name) };
    } finally {
      await runner.release();
    }
  } finally {
    await ds.destroy();
  }
}
