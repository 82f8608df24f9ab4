import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { applyRuntimeGrants, withUser } from '@app/db';
import { pollUntil, TEST_RUNTIME_ROLE, WorkerProcess } from '@app/testing';
import { startApiProcess } from './api-process';
import { ApiHarness, startApiHarness } from './api-harness';

/**
 * Issue 15, finding 2: the service's own database role must not be able to alter or bypass the audit log. The API and
 * a worker run as deployed (built, as child processes); the test connects with the very DATABASE_URL they were given
 * and tries every way round the append-only triggers, then starts them with roles that could, which they refuse.
 */
describe('the database role the API and the worker run as', () => {
  let api: ApiHarness;
  let worker: WorkerProcess;
  let serviceUrl: string;
  const scratchRoles: string[] = [];

  beforeAll(async () => {
    api = await startApiHarness('dbrole');
    worker = await WorkerProcess.start(api.h.env);
    serviceUrl = api.h.env.DATABASE_URL;
  });

  afterAll(async () => {
    await worker?.kill();
    for (const role of scratchRoles) {
      await api.h.db.owner.query(`DROP OWNED BY ${role}`);
      await api.h.db.owner.query(`DROP ROLE ${role}`);
    }
    await api?.close();
  });

  /** One statement on a fresh session of the service's URL: its error message, or null when it ran. */
  async function asService(sql: string): Promise<string | null> {
    const c = new Client({ connectionString: serviceUrl });
    await c.connect();
    try {
      await c.query(sql);
      return null;
    } catch (err) {
      return (err as Error).message;
    } finally {
      await c.end();
    }
  }

  it('is the runtime role: every session of the running API and worker connects as it', async () => {
    expect(decodeURIComponent(new URL(serviceUrl).username)).toBe(TEST_RUNTIME_ROLE);
    expect((await api.call('GET', '/waves')).status).toBe(200); // the API's pool holds a session now
    const sessions = async () =>
      await api.h.db.owner.query<{ app: string; role: string }[]>(
        `SELECT DISTINCT application_name AS app, usename AS role FROM pg_stat_activity
          WHERE datname = current_database() AND application_name IN ('reopen-api', 'reopen-worker') ORDER BY 1, 2`,
      );
    await pollUntil(async () => (await sessions()).length >= 2, { timeoutMs: 10_000, description: 'both sessions' });
    expect(await sessions()).toEqual([
      { app: 'reopen-api', role: TEST_RUNTIME_ROLE },
      { app: 'reopen-worker', role: TEST_RUNTIME_ROLE },
    ]);
  });

  it('cannot switch off, drop, rewrite or bypass the append-only triggers, nor change a row', async () => {
    expect(await asService(`INSERT INTO audit_log (actor, action) VALUES ('probe', 'db-role.probe')`)).toBeNull();
    const before = await api.h.db.owner.query(`SELECT id, actor, action FROM audit_log ORDER BY id`);

    const attempts: Record<string, RegExp> = {
      'SET session_replication_role = replica': /permission denied to set parameter "session_replication_role"/,
      'ALTER TABLE audit_log DISABLE TRIGGER ALL': /must be owner of table audit_log/,
      'ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update_delete': /must be owner of table audit_log/,
      'DROP TRIGGER audit_log_no_update_delete ON audit_log': /must be owner of (table|relation) audit_log/,
      'DROP TRIGGER audit_log_no_truncate ON audit_log': /must be owner of (table|relation) audit_log/,
      // The notifications outbox (issue 20): a change the service made is never left unreported.
      'ALTER TABLE audit_log DISABLE TRIGGER audit_log_notification_outbox': /must be owner of table audit_log/,
      'DROP TRIGGER audit_log_notification_outbox ON audit_log': /must be owner of (table|relation) audit_log/,
      [`CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql
         AS $$ BEGIN RETURN NEW; END $$`]: /permission denied for schema public|must be owner of function/,
      [`ALTER TABLE audit_log OWNER TO ${TEST_RUNTIME_ROLE}`]: /must be owner of table audit_log/,
      'DROP TABLE audit_log': /must be owner of table audit_log/,
      "UPDATE audit_log SET action = 'tampered'": /permission denied for table audit_log/,
      'DELETE FROM audit_log': /permission denied for table audit_log/,
      'TRUNCATE audit_log': /permission denied for table audit_log/,
      'SET ROLE root': /permission denied to set role "root"/,
      'CREATE TABLE audit_shadow (id int)': /permission denied for schema public/,
    };
    const outcomes: Record<string, string | null> = {};
    for (const sql of Object.keys(attempts)) outcomes[sql] = await asService(sql);
    for (const [sql, refusal] of Object.entries(attempts)) {
      expect({ sql, outcome: outcomes[sql] }).toEqual({ sql, outcome: expect.stringMatching(refusal) });
    }

    // The log is as it was and its triggers are in place and enabled ('O': fire in origin sessions, i.e. always).
    expect(await api.h.db.owner.query(`SELECT id, actor, action FROM audit_log ORDER BY id`)).toEqual(before);
    expect(
      await api.h.db.owner.query(
        `SELECT tgname AS name, tgenabled AS enabled FROM pg_trigger
          WHERE tgrelid = 'audit_log'::regclass AND NOT tgisinternal ORDER BY 1`,
      ),
    ).toEqual([
      { name: 'audit_log_no_truncate', enabled: 'O' },
      { name: 'audit_log_no_update_delete', enabled: 'O' },
      { name: 'audit_log_notification_outbox', enabled: 'O' },
    ]);
    expect(await asService(`SELECT count(*) FROM audit_log WHERE action = 'db-role.probe'`)).toBeNull();
  });

  it('refuses to start the API or the worker as a superuser, in one line that says why', async () => {
    const env = { ...api.h.env, DATABASE_URL: api.h.db.ownerUrl };
    await expect(startApiProcess(env)).rejects.toThrow(
      /^api exited with 1: api failed to start: DATABASE_URL connects as "root", which can alter or bypass the audit log: superuser; [^\n]*\(docs\/security\.md, "Database roles"\)\.\n$/,
    );
    await expect(WorkerProcess.start(env)).rejects.toThrow(
      /worker exited at start:\nworker failed to start: DATABASE_URL connects as "root", which can alter or bypass the audit log: superuser;/,
    );
  });

  it('refuses a role that is granted one privilege too many on the audit log', async () => {
    const role = `reopen_test_extra_${randomBytes(3).toString('hex')}`;
    await api.h.db.owner.query(`CREATE ROLE ${role} LOGIN`);
    scratchRoles.push(role);
    await applyRuntimeGrants((t, p) => api.h.db.owner.query(t, p), role);
    await api.h.db.owner.query(`GRANT DELETE ON audit_log TO ${role}`);
    await expect(startApiProcess({ ...api.h.env, DATABASE_URL: withUser(api.h.db.ownerUrl, role) })).rejects.toThrow(
      `api failed to start: DATABASE_URL connects as "${role}", which can alter or bypass the audit log: DELETE on audit_log.`,
    );
  });

  it('reports not ready while its role has gained such a privilege', async () => {
    const ready = () => fetch(`${api.api.origin}/api/v1/health/ready`);
    expect((await ready()).status).toBe(200);
    await api.h.db.owner.query(`GRANT TRUNCATE ON audit_log TO ${TEST_RUNTIME_ROLE}`);
    try {
      const res = await ready();
      expect(res.status).toBe(503);
      // The route is public: it says what is wrong, not which privileges an attacker would find.
      const body = (await res.json()) as { code: string; checks: Record<string, { status: string; message?: string }> };
      expect(body.code).toBe('not_ready');
      expect(body.checks.database).toMatchObject({ status: 'down', message: expect.stringMatching(/audit log/) });
      expect(JSON.stringify(body)).not.toMatch(/TRUNCATE|reopen_test/);
      await pollUntil(() => api.api.lines.some((l) => l.includes('TRUNCATE on audit_log')), {
        timeoutMs: 2000,
        description: 'the reason in the API log',
      });
    } finally {
      await api.h.db.owner.query(`REVOKE TRUNCATE ON audit_log FROM ${TEST_RUNTIME_ROLE}`);
    }
    expect((await ready()).status).toBe(200);
  });
});
