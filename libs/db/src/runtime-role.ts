import { escapeIdentifier, escapeLiteral } from 'pg';

/**
 * The two database roles (docs/security.md, "Database roles"): the owner runs migrations and owns every object; the
 * runtime role (DATABASE_URL's user) is what the API and the worker connect as. This file knows the runtime role:
 * who it is, how `migrate` creates it, and what it must never be able to do to the audit log.
 */

/** One SQL statement's rows: a pg Client and a TypeORM DataSource both fit behind it (see sqlOfClient). */
export type RoleSql = <T = Record<string, unknown>>(text: string, params?: unknown[]) => Promise<T[]>;

/**
 * A pg Client as RoleSql.
 * @internal for the tests that race roles on raw connections; knip's production pass skips it.
 */
export function sqlOfClient(client: {
  query: (text: string, params?: unknown[]) => Promise<{ rows: unknown[] }>;
}): RoleSql {
  return async <T>(text: string, params?: unknown[]) => (await client.query(text, params)).rows as T[];
}

/** A role set-up or a role check that an operator must fix; the message says what and how, on one line or a few. */
export class DatabaseRoleError extends Error {
  /** An operator's fix, said in one line (startupFailureLine). */
  readonly operatorFix = true;

  constructor(message: string) {
    super(message);
    this.name = 'DatabaseRoleError';
  }
}

export interface RuntimeRoleSpec {
  name: string;
  /** From DATABASE_URL; null when it has none (trust or peer authentication). */
  password: string | null;
}

/** The runtime role that a DATABASE_URL connects as. */
export function runtimeRoleOf(url: string): RuntimeRoleSpec {
  const u = new URL(url);
  const name = decodeURIComponent(u.username);
  if (!name)
    throw new DatabaseRoleError('DATABASE_URL names no user: name the runtime role, e.g. postgres://reopen_app@…');
  return { name, password: u.password ? decodeURIComponent(u.password) : null };
}

/** What the runtime role is, whoever creates it: a login and nothing else (no role, database or bypass powers). */
export const RUNTIME_ROLE_ATTRIBUTES = 'LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS';

/**
 * What an administrator runs when the owner may not create roles. The password is set with psql's \password, which
 * sends only its hash: it never appears in a log or in this message.
 */
export function createRuntimeRoleSql(spec: RuntimeRoleSpec): string {
  const create = `CREATE ROLE ${escapeIdentifier(spec.name)} WITH ${RUNTIME_ROLE_ATTRIBUTES};`;
  return spec.password ? `${create}\n  \\password ${escapeIdentifier(spec.name)}` : create;
}

const DUPLICATE_OBJECT = '42710';
const UNIQUE_VIOLATION = '23505';
/** "tuple concurrently updated": two sessions altered the same role row at once (roles are cluster-wide). */
const INTERNAL_ERROR = 'XX000';

export interface RuntimeRoleReport {
  name: string;
  created: boolean;
  /** LOGIN or the password (re)set from DATABASE_URL. */
  updated: boolean;
}

interface RoleRow {
  rolcanlogin: boolean;
}

/**
 * Makes sure the runtime role exists and can log in, as the owner (`sql`, connected to any database of the cluster).
 * With CREATEROLE (or as a superuser) it creates the role, or sets its LOGIN and its password from DATABASE_URL when
 * `logsIn` (a connection with DATABASE_URL) fails: a password is sent only to create the role or to change it, since
 * a server that logs DDL writes it to its log. Without CREATEROLE it needs an administrator and says what to run. It never demotes an existing role: a role that is
 * more than a login is refused by `auditBypassProblems`, with the fix to apply by hand.
 *
 * Roles are cluster-wide and several migrators (test runs, CI, deployments of other databases) may race: a creation
 * that loses the race is taken as done, and an ALTER that meets a concurrent one is tried again.
 */
export async function ensureRuntimeRole(
  sql: RoleSql,
  spec: RuntimeRoleSpec,
  logsIn: () => Promise<boolean> = () => Promise.resolve(false),
): Promise<RuntimeRoleReport> {
  const [me] = await sql<{ name: string; can_manage: boolean }>(
    `SELECT rolname AS name, rolsuper OR rolcreaterole AS can_manage FROM pg_roles WHERE rolname = current_user`,
  );
  if (me.name === spec.name) {
    throw new DatabaseRoleError(
      `DATABASE_URL and OWNER_DATABASE_URL both connect as "${spec.name}": the API and the worker need a role of ` +
        `their own that does not own the schema (e.g. postgres://reopen_app@…, which migrate creates).`,
    );
  }
  const role = escapeIdentifier(spec.name);
  const find = async () =>
    (await sql<RoleRow>(`SELECT rolcanlogin FROM pg_roles WHERE rolname = $1`, [spec.name]))[0] as RoleRow | undefined;
  const existing = await find();
  if (!existing && !me.can_manage) {
    throw new DatabaseRoleError(
      `the runtime role "${spec.name}" (DATABASE_URL's user) does not exist and "${me.name}" may not create roles. ` +
        `Have an administrator run this in psql, then run migrate again:\n  ${createRuntimeRoleSql(spec)}`,
    );
  }
  const password = spec.password ? ` PASSWORD ${escapeLiteral(spec.password)}` : '';
  if (!existing) {
    try {
      await sql(`CREATE ROLE ${role} WITH ${RUNTIME_ROLE_ATTRIBUTES}${password}`);
      return { name: spec.name, created: true, updated: false };
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code !== DUPLICATE_OBJECT && code !== UNIQUE_VIOLATION) throw err;
      // Another migrator created it a moment ago: set its password as for any existing role.
    }
  }
  const current = existing ?? (await find());
  const fine = current?.rolcanlogin && (!spec.password || (await logsIn()));
  if (!me.can_manage || fine) return { name: spec.name, created: false, updated: false };
  for (let attempt = 1; ; attempt++) {
    try {
      await sql(`ALTER ROLE ${role} WITH LOGIN${password}`);
      return { name: spec.name, created: false, updated: true };
    } catch (err) {
      if ((err as { code?: string }).code !== INTERNAL_ERROR || attempt === 3) throw err;
    }
  }
}

interface BypassRow {
  rolsuper: boolean;
  rolbypassrls: boolean;
  rolcreaterole: boolean;
  audit_exists: boolean;
  audit_owner: string | null;
  owner_member: boolean;
  audit_privileges: string[];
  set_replication_role: boolean;
}

/**
 * Everything that would let `role` change, disable or bypass the audit log, as short phrases (none: the role is fit
 * to run the service). A superuser or a member of the table's owner can disable or drop the append-only triggers and
 * set session_replication_role (which skips them); CREATEROLE can grant itself the owner's role (PostgreSQL 15);
 * BYPASSRLS ignores any row policy; UPDATE, DELETE, TRUNCATE and TRIGGER are refused by the grants themselves.
 */
export async function auditBypassProblems(sql: RoleSql, role: string): Promise<string[]> {
  const [{ version }] = await sql<{ version: number }>(`SELECT current_setting('server_version_num')::int AS version`);
  // SET privileges on parameters exist from PostgreSQL 15 (GRANT SET ON PARAMETER); before, only superusers had it.
  const setReplicationRole =
    version >= 150000 ? `has_parameter_privilege(r.oid, 'session_replication_role', 'SET')` : 'r.rolsuper';
  const rows = await sql<BypassRow>(
    `SELECT r.rolsuper, r.rolbypassrls, r.rolcreaterole,
            a.oid IS NOT NULL AS audit_exists,
            pg_get_userbyid(a.relowner) AS audit_owner,
            COALESCE(pg_has_role(r.oid, a.relowner, 'MEMBER'), false) AS owner_member,
            ARRAY(SELECT p FROM unnest(ARRAY['UPDATE', 'DELETE', 'TRUNCATE', 'TRIGGER']) AS p
                   WHERE has_table_privilege(r.oid, a.oid, p)) AS audit_privileges,
            ${setReplicationRole} AS set_replication_role
       FROM pg_roles r LEFT JOIN pg_class a ON a.oid = to_regclass('public.audit_log')
      WHERE r.rolname = $1`,
    [role],
  );
  const row = rows[0];
  if (!row) return [`role "${role}" does not exist`];
  const problems: string[] = [];
  if (row.rolsuper) problems.push('superuser');
  if (row.rolbypassrls) problems.push('BYPASSRLS');
  if (row.rolcreaterole) problems.push("CREATEROLE (it can grant itself the owner's role)");
  if (!row.audit_exists) problems.push('there is no audit_log table (run migrate first)');
  if (row.owner_member) {
    problems.push(
      row.audit_owner === role ? 'owns audit_log' : `member of "${row.audit_owner}", the owner of audit_log`,
    );
  }
  if (row.audit_privileges.length) problems.push(`${row.audit_privileges.join(', ')} on audit_log`);
  if (row.set_replication_role && !row.rolsuper) problems.push('may SET session_replication_role');
  return problems;
}

/** The error for a process whose DATABASE_URL role can alter or bypass the audit log: one line, with the fix. */
export function privilegedRoleMessage(role: string, problems: string[]): string {
  return (
    `DATABASE_URL connects as "${role}", which can alter or bypass the audit log: ${problems.join('; ')}. ` +
    `Connect the API and the worker as the runtime role that migrate sets up (docs/security.md, "Database roles").`
  );
}

/**
 * The boot check of the API and the worker: throws a DatabaseRoleError unless the session's own role is fit to run
 * the service. No setting turns it off: the fix is to connect as the runtime role, which `migrate` creates.
 */
export async function assertRuntimeRole(sql: RoleSql): Promise<void> {
  const [{ role }] = await sql<{ role: string }>(`SELECT current_user AS role`);
  const problems = await auditBypassProblems(sql, role);
  if (problems.length) throw new DatabaseRoleError(privilegedRoleMessage(role, problems));
}
