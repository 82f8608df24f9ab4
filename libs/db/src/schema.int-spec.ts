import { Client } from 'pg';
import { createTestDatabase, TestDatabase } from '@app/testing';
import { MIGRATIONS } from '../../../migrations';
import { migrate } from './migrate';
import { withDatabase } from './database-url';
import { TEST_RUNTIME_ROLE, TEST_SERVER_URL, runDatabasePrefix, runId, testRuntimeUrl } from '@app/testing';

describe('schema and migrations (real PostgreSQL)', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('schema');
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('creates an empty database, migrates it, and a second run applies nothing', async () => {
    const url = withDatabase(TEST_SERVER_URL, `${runDatabasePrefix(runId())}_fresh`);
    const runtimeUrl = testRuntimeUrl(url);
    const first = await migrate(url, runtimeUrl);
    expect(first.createdDatabase).toBe(true);
    expect(first.applied).toEqual(MIGRATIONS.map((m) => m.name));
    const second = await migrate(url, runtimeUrl);
    expect(second).toEqual({
      createdDatabase: false,
      applied: [],
      runtimeRole: { name: TEST_RUNTIME_ROLE, created: false, updated: false },
    });
    const c = new Client({ connectionString: url });
    await c.connect();
    const tables = await c.query<{ tablename: string }>(
      `SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename`,
    );
    await c.end();
    expect(tables.rows.map((r) => r.tablename)).toEqual([
      'accounts',
      'api_keys',
      'approvals',
      'audit_log',
      'eligibility_epoch',
      'gate_measurements',
      'login_counts',
      'login_failures',
      'login_reclosures',
      'login_stream',
      'mailstore_calls',
      'mailstore_capabilities',
      'notification_deliveries',
      'notification_events',
      'notification_subscriptions',
      'operations',
      'schema_migrations',
      'signals',
      'wave_batches',
      'wave_counters',
      'wave_members',
      'wave_pump_slots',
      'waves',
    ]);
  });

  it('runs two migrators at once without applying anything twice', async () => {
    const url = withDatabase(TEST_SERVER_URL, `${runDatabasePrefix(runId())}_race`);
    const runtimeUrl = testRuntimeUrl(url);
    const [a, b] = await Promise.all([migrate(url, runtimeUrl), migrate(url, runtimeUrl)]);
    expect([...a.applied, ...b.applied].sort()).toEqual(MIGRATIONS.map((m) => m.name).sort());
  });

  it('refuses UPDATE, DELETE and TRUNCATE on the audit log, even to its owner', async () => {
    // The service's own role is not even granted them (runtime-grants.int-spec, db-role.e2e-spec): the triggers are
    // the second line, against a mistaken grant or a session of the owner's.
    const q = db.owner;
    await q.query(`INSERT INTO audit_log (actor, action, detail) VALUES ('test', 'wave.created', '{"a":1}')`);
    await expect(q.query(`UPDATE audit_log SET action = 'tampered'`)).rejects.toThrow(/append-only: UPDATE/);
    await expect(q.query(`DELETE FROM audit_log`)).rejects.toThrow(/append-only: DELETE/);
    await expect(q.query(`TRUNCATE audit_log`)).rejects.toThrow(/append-only: TRUNCATE/);
    const rows = await q.query(`SELECT action FROM audit_log`);
    expect(rows).toEqual([{ action: 'wave.created' }]);
  });

  it('keeps logins unique and lower-case, and a wave state within its lifecycle', async () => {
    const q = db.dataSource;
    await q.query(`INSERT INTO accounts (login) VALUES ('a@example.test')`);
    await expect(q.query(`INSERT INTO accounts (login) VALUES ('a@example.test')`)).rejects.toThrow(
      /accounts_login_key/,
    );
    await expect(q.query(`INSERT INTO accounts (login) VALUES ('B@example.test')`)).rejects.toThrow(
      /accounts_login_lower/,
    );
    await expect(
      q.query(
        `INSERT INTO waves (name, selector, protocols, state, rate_per_second, rollback_rate_per_second, batch_size, created_by)
         VALUES ('w', '{"type":"remaining"}', '{imap}', 'exploded', 10, 10, 100, 'test')`,
      ),
    ).rejects.toThrow(/waves_state_check/);
  });
});
