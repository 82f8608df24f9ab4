import { Client, escapeIdentifier } from 'pg';
import { createDataSource } from './data-source';
import { databaseName, quoteIdent, withDatabase } from './database-url';
import { applyRuntimeGrants, runtimeGrantDrift } from './runtime-grants';
import {
  auditBypassProblems,
  DatabaseRoleError,
  ensureRuntimeRole,
  RoleSql,
  RUNTIME_ROLE_ATTRIBUTES,
  RuntimeRoleReport,
  runtimeRoleOf,
} from './runtime-role';

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
  runtimeRole: RuntimeRoleReport;
}

/**
 * Applies pending migrations as the owner (`ownerUrl`), then sets up the runtime role that `runtimeUrl` (the API's
 * and the worker's DATABASE_URL) connects as: creates it when it is missing (see ensureRuntimeRole), gives it exactly
 * the declared privileges (runtime-grants.ts) and checks it cannot alter or bypass the audit log. Safe to run again
 * and safe to race: an advisory lock serialises concurrent runs on one database, so two processes never apply the
 * same migration or interleave their grants.
 */
export async function migrate(ownerUrl: string, runtimeUrl: string): Promise<MigrationReport> {
  if (databaseName(ownerUrl) !== databaseName(runtimeUrl)) {
    throw new DatabaseRoleError(
      `OWNER_DATABASE_URL names database "${databaseName(ownerUrl)}" and DATABASE_URL "${databaseName(runtimeUrl)}": ` +
        `migrate grants the runtime role its privileges in the database it migrates, so both must name the same one.`,
    );
  }
  const runtime = runtimeRoleOf(runtimeUrl);
  const createdDatabase = await ensureDatabase(ownerUrl);
  const ds = createDataSource({ url: ownerUrl, poolSize: 2, applicationName: 'reopen-migrate' });
  await ds.initialize();
  try {
    const runner = ds.createQueryRunner();
    await runner.connect();
    try {
      await runner.query('SELECT pg_advisory_lock(hashtext($1))', ['reopen:migrations']);
      const applied = await ds.runMigrations({ transaction: 'each' });
      const sql: RoleSql = (text, params) => runner.query(text, params);
      const runtimeRole = await ensureRuntimeRole(sql, runtime, () => logsIn(runtimeUrl));
      await runner.startTransaction();
      try {
        await applyRuntimeGrants(sql, runtime.name);
        await runner.commitTransaction();
      } catch (err) {
        await runner.rollbackTransaction();
        throw err;
      }
      await checkRuntimeRole(sql, runtime.name);
      await runner.query('SELECT pg_advisory_unlock(hashtext($1))', ['reopen:migrations']);
      return { createdDatabase, applied: applied.map((m) => m.name), runtimeRole };
    } finally {
      await runner.release();
    }
  } finally {
    await ds.destroy();
  }
}

/** Whether DATABASE_URL connects as it is (its password is right, or the server does not ask for one). */
async function logsIn(url: string): Promise<boolean> {
  const c = new Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  try {
    await c.connect();
    return true;
  } catch {
    return false; // wrong password, or not reachable from here: setting the password again is harmless
  } finally {
    await c.end().catch(() => undefined);
  }
}

/**
 * After the grants: the role has exactly them (nothing more through PUBLIC or a membership) and nothing that defeats
 * the audit log. migrate never demotes a role; it says what an administrator must change.
 */
async function checkRuntimeRole(sql: RoleSql, role: string): Promise<void> {
  const problems = await auditBypassProblems(sql, role);
  if (problems.length) {
    throw new DatabaseRoleError(
      `the runtime role "${role}" (DATABASE_URL's user) can alter or bypass the audit log: ${problems.join('; ')}. ` +
        `Make it a plain login as an administrator (ALTER ROLE ${escapeIdentifier(role)} WITH ` +
        `${RUNTIME_ROLE_ATTRIBUTES}; and revoke its memberships, which \\du ${role} lists in psql), then run migrate again.`,
    );
  }
  const drift = await runtimeGrantDrift(sql, role);
  if (drift.length) {
    throw new DatabaseRoleError(`the runtime role "${role}" has other privileges than declared: ${drift.join('; ')}`);
  }
}
