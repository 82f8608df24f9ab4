import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { createTestDatabase, TEST_RUNTIME_ROLE, TestDatabase } from '@app/testing';
import { withDatabase, withUser } from './database-url';
import { migrate } from './migrate';
import { applyRuntimeGrants, runtimeGrantDrift } from './runtime-grants';
import { auditBypassProblems, DatabaseRoleError, ensureRuntimeRole, RoleSql, sqlOfClient } from './runtime-role';

const sqlOf =
  (ds: DataSource): RoleSql =>
  (text, params) =>
    ds.query(text, params);

/** A role of this test's own (roles are cluster-wide): dropped with its privileges in this database afterwards. */
function scratchRole(kind: string): string {
  return `reopen_test_${kind}_${randomBytes(3).toString('hex')}`;
}

describe('runtime role grants (real PostgreSQL)', () => {
  let db: TestDatabase;
  const roles: string[] = [];
  beforeAll(async () => {
    db = await createTestDatabase('grants');
  });
  afterAll(async () => {
    for (const role of roles) {
      await db.owner.query(`DROP OWNED BY ${role}`).catch(() => undefined);
      await db.owner.query(`DROP ROLE IF EXISTS ${role}`);
    }
    await db?.drop();
  });

  it('gives the runtime role exactly the declared privileges on every table, sequence and function', async () => {
    expect(await runtimeGrantDrift(sqlOf(db.owner), TEST_RUNTIME_ROLE)).toEqual([]);
    // The declarations, as the database sees them: the audit log is insert-only, keys are stamped, never minted.
    const privileges = await db.owner.query<{ table: string; privilege: string }[]>(
      `SELECT table_name AS table, privilege_type AS privilege FROM information_schema.table_privileges
        WHERE grantee = $1 AND table_name IN ('audit_log', 'api_keys', 'schema_migrations') ORDER BY 1, 2`,
      [TEST_RUNTIME_ROLE],
    );
    expect(privileges).toEqual([
      { table: 'api_keys', privilege: 'SELECT' },
      { table: 'audit_log', privilege: 'INSERT' },
      { table: 'audit_log', privilege: 'SELECT' },
    ]);
  });

  it('fails on a table that has no grant decision, in the check and in migrate', async () => {
    await db.owner.query(`CREATE TABLE undecided_table (id int)`);
    try {
      expect(await runtimeGrantDrift(sqlOf(db.owner), TEST_RUNTIME_ROLE)).toContain(
        'table undecided_table has no runtime grant decision (add it to RUNTIME_TABLE_GRANTS in libs/db)',
      );
      await expect(migrate(db.ownerUrl, db.url)).rejects.toThrow(/table undecided_table has no runtime grant decision/);
      // Refused before anything changed: the role still has nothing on it.
      const [row] = await db.owner.query<{ any: boolean }[]>(
        `SELECT has_table_privilege($1, 'undecided_table', 'SELECT') AS any`,
        [TEST_RUNTIME_ROLE],
      );
      expect(row.any).toBe(false);
    } finally {
      await db.owner.query(`DROP TABLE undecided_table`);
    }
  });

  it('finds an over-grant (to the role or to PUBLIC) and migrate takes it back', async () => {
    await db.owner.query(`GRANT DELETE, TRUNCATE ON audit_log TO ${TEST_RUNTIME_ROLE}`);
    await db.owner.query(`GRANT UPDATE (revoked_at) ON api_keys TO ${TEST_RUNTIME_ROLE}`);
    await db.owner.query(`GRANT SELECT ON schema_migrations TO PUBLIC`);
    const drift = await runtimeGrantDrift(sqlOf(db.owner), TEST_RUNTIME_ROLE);
    expect(drift).toEqual(
      expect.arrayContaining([
        `audit_log: ${TEST_RUNTIME_ROLE} may DELETE, TRUNCATE, which is not declared`,
        `api_keys: ${TEST_RUNTIME_ROLE} may UPDATE columns [last_used_at, revoked_at], declared [last_used_at]`,
        `schema_migrations: ${TEST_RUNTIME_ROLE} may SELECT, which is not declared`,
      ]),
    );
    expect(await auditBypassProblems(sqlOf(db.owner), TEST_RUNTIME_ROLE)).toEqual(['DELETE, TRUNCATE on audit_log']);

    await migrate(db.ownerUrl, db.url);
    expect(await runtimeGrantDrift(sqlOf(db.owner), TEST_RUNTIME_ROLE)).toEqual([]);
    expect(await auditBypassProblems(sqlOf(db.owner), TEST_RUNTIME_ROLE)).toEqual([]);
  });

  it('lets the runtime role verify API keys but not mint, revive or promote one', async () => {
    await db.owner.query(
      `INSERT INTO api_keys (name, role, prefix, key_hash, revoked_at) VALUES ('old', 'viewer', 'rk_viewer_x', 'h', now())`,
    );
    const q = db.dataSource; // connected as the runtime role
    await expect(
      q.query(`INSERT INTO api_keys (name, role, prefix, key_hash) VALUES ('mine', 'ops', 'rk_ops_x', 'h2')`),
    ).rejects.toThrow(/permission denied for table api_keys/);
    await expect(q.query(`UPDATE api_keys SET revoked_at = NULL`)).rejects.toThrow(/permission denied/);
    await expect(q.query(`UPDATE api_keys SET role = 'ops'`)).rejects.toThrow(/permission denied/);
    await expect(q.query(`DELETE FROM api_keys`)).rejects.toThrow(/permission denied/);
    await q.query(`UPDATE api_keys SET last_used_at = now() WHERE name = 'old'`);
    expect(await q.query(`SELECT role, revoked_at IS NOT NULL AS revoked FROM api_keys`)).toEqual([
      { role: 'viewer', revoked: true },
    ]);
  });

  it('applies the grants in one transaction and again without change (idempotent)', async () => {
    const runner = db.owner.createQueryRunner();
    await runner.connect();
    try {
      await runner.startTransaction();
      await applyRuntimeGrants((t, p) => runner.query(t, p), TEST_RUNTIME_ROLE);
      await applyRuntimeGrants((t, p) => runner.query(t, p), TEST_RUNTIME_ROLE);
      await runner.commitTransaction();
    } finally {
      await runner.release();
    }
    expect(await runtimeGrantDrift(sqlOf(db.owner), TEST_RUNTIME_ROLE)).toEqual([]);
  });

  it('creates a missing role once when migrators race, as a plain login with its password', async () => {
    const role = scratchRole('race');
    roles.push(role);
    const clients = await Promise.all(
      [1, 2, 3, 4].map(async () => {
        const c = new Client({ connectionString: db.ownerUrl });
        await c.connect();
        return c;
      }),
    );
    try {
      const reports = await Promise.all(
        clients.map((c) => ensureRuntimeRole(sqlOfClient(c), { name: role, password: 's3cret' })),
      );
      expect(reports.filter((r) => r.created)).toHaveLength(1);
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
    const [attrs] = await db.owner.query<Record<string, boolean>[]>(
      `SELECT rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls,
              rolpassword IS NOT NULL AS has_password
         FROM pg_authid WHERE rolname = $1`,
      [role],
    );
    expect(attrs).toEqual({
      rolcanlogin: true,
      rolsuper: false,
      rolcreatedb: false,
      rolcreaterole: false,
      rolreplication: false,
      rolbypassrls: false,
      has_password: true,
    });
  });

  it('prints the SQL to run when the owner may not create roles', async () => {
    const owner = scratchRole('owner');
    roles.push(owner);
    await db.owner.query(`CREATE ROLE ${owner} LOGIN NOCREATEROLE`);
    const c = new Client({ connectionString: withUser(db.ownerUrl, owner) });
    await c.connect();
    try {
      const missing = scratchRole('missing');
      const attempt = ensureRuntimeRole(sqlOfClient(c), { name: missing, password: 'pw' });
      await expect(attempt).rejects.toThrow(DatabaseRoleError);
      await expect(attempt).rejects.toThrow(
        `the runtime role "${missing}" (DATABASE_URL's user) does not exist and "${owner}" may not create roles. ` +
          `Have an administrator run this in psql, then run migrate again:\n` +
          `  CREATE ROLE "${missing}" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;\n` +
          `  \\password "${missing}"`,
      );
    } finally {
      await c.end();
    }
  });

  it('refuses a runtime role that could bypass the audit log, the owner itself, or another database', async () => {
    const su = scratchRole('su');
    roles.push(su);
    await db.owner.query(`CREATE ROLE ${su} LOGIN SUPERUSER`);
    await expect(migrate(db.ownerUrl, withUser(db.ownerUrl, su))).rejects.toThrow(
      new RegExp(`the runtime role "${su}" \\(DATABASE_URL's user\\) can alter or bypass the audit log: superuser;`),
    );
    await expect(migrate(db.ownerUrl, db.ownerUrl)).rejects.toThrow(
      /DATABASE_URL and OWNER_DATABASE_URL both connect as "root"/,
    );
    await expect(migrate(db.ownerUrl, withDatabase(db.url, 'elsewhere'))).rejects.toThrow(
      /OWNER_DATABASE_URL names database "reopen_test_\w+" and DATABASE_URL "elsewhere"/,
    );
  });
});
