import { escapeIdentifier } from 'pg';
import { DatabaseRoleError, RoleSql } from './runtime-role';

export type TablePrivilege = 'SELECT' | 'INSERT' | 'UPDATE' | 'DELETE';

export interface TableGrant {
  /** Table-level privileges. */
  privileges: readonly TablePrivilege[];
  /** UPDATE on these columns only (instead of on the whole table). */
  updateColumns?: readonly string[];
}

/**
 * What the runtime role (the API and the worker) may do to each table: one decision per table, made with the
 * migration that adds it. `migrate` applies exactly this after the migrations and revokes anything else, and fails on
 * a table that has no decision here (runtime-grants.int-spec fails first). Nobody gets TRUNCATE, REFERENCES or
 * TRIGGER, nothing is deleted but pump-slot leases, old failed-login buckets and
 * reclose decisions that could not be carried out, and the audit log is insert-only.
 */
export const RUNTIME_TABLE_GRANTS: Readonly<Record<string, TableGrant>> = {
  // Imports insert and update accounts; support, waves and rollbacks update their state. Never deleted.
  accounts: { privileges: ['SELECT', 'INSERT', 'UPDATE'] },
  // Keys are created and revoked by the owner (the CLI); the API verifies them and stamps their last use only, so a
  // compromised service can neither mint a key, nor revive a revoked one, nor change a key's role.
  api_keys: { privileges: ['SELECT'], updateColumns: ['last_used_at'] },
  // Two-person approval (issue 20): the commands request, ops approve or reject, execution and expiry end them. Never
  // deleted: the trail of who allowed what.
  approvals: { privileges: ['SELECT', 'INSERT', 'UPDATE'] },
  // Append-only: written in the change's transaction, read by GET /audit. Its triggers refuse the rest to anyone.
  audit_log: { privileges: ['SELECT', 'INSERT'] },
  // One row, bumped by holds and imports; send permits hold it FOR SHARE (which needs UPDATE).
  eligibility_epoch: { privileges: ['SELECT', 'UPDATE'] },
  // Prometheus gates' measurements (issue 19): the worker writes them, progress reads them.
  gate_measurements: { privileges: ['SELECT', 'INSERT'] },
  // Login events as counts (issue 19): the API adds to them, the gates read them.
  login_counts: { privileges: ['SELECT', 'INSERT', 'UPDATE'] },
  login_stream: { privileges: ['SELECT', 'UPDATE'] },
  // Failed logins per (account, address, bucket) for the per-account reaction: old buckets are deleted.
  login_failures: { privileges: ['SELECT', 'INSERT', 'UPDATE', 'DELETE'] },
  // Accounts closed again after a credential-stuffing burst, once per (wave, account); a decision whose operation could
  // not be requested is deleted (the next failed login decides again).
  login_reclosures: { privileges: ['SELECT', 'INSERT', 'UPDATE', 'DELETE'] },
  // One row: the capabilities a worker last read (it upserts them), which the preview reads.
  mailstore_capabilities: { privileges: ['SELECT', 'INSERT', 'UPDATE'] },
  // Notifications (issue 20): ops create subscriptions and end them (deleted_at; deliveries keep their subscription);
  // the outbox trigger on audit_log inserts events and deliveries in the change's transaction; the worker leases and
  // settles deliveries. Nothing is deleted.
  notification_deliveries: {
    privileges: ['SELECT', 'INSERT'],
    updateColumns: [
      'state',
      'attempts',
      'next_attempt_at',
      'lease_owner',
      'lease_until',
      'last_attempt_at',
      'last_status',
      'last_error',
      'delivered_at',
      'failed_at',
      'redelivered_at',
    ],
  },
  notification_events: { privileges: ['SELECT', 'INSERT'] },
  notification_subscriptions: { privileges: ['SELECT', 'INSERT'], updateColumns: ['deleted_at'] },
  // One row per call to the mailstore, for gates and metrics.
  mailstore_calls: { privileges: ['SELECT', 'INSERT'] },
  operations: { privileges: ['SELECT', 'INSERT', 'UPDATE'] },
  // The migrations' ledger: the owner's alone.
  schema_migrations: { privileges: [] },
  signals: { privileges: ['SELECT', 'INSERT'] },
  wave_batches: { privileges: ['SELECT', 'INSERT', 'UPDATE'] },
  wave_counters: { privileges: ['SELECT', 'INSERT', 'UPDATE'] },
  wave_members: { privileges: ['SELECT', 'INSERT', 'UPDATE'] },
  // A pump gives its slot back by deleting its lease.
  wave_pump_slots: { privileges: ['SELECT', 'INSERT', 'UPDATE', 'DELETE'] },
  waves: { privileges: ['SELECT', 'INSERT', 'UPDATE'] },
};

/**
 * Functions the runtime role may call: SECURITY DEFINER helpers for the few things only the owner may do. Every
 * other function of the schema is revoked from PUBLIC (extensions' functions are left as their extension set them).
 */
export const RUNTIME_FUNCTION_GRANTS: readonly string[] = [
  // ANALYZE after a wave freezes its membership (only the owner may ANALYZE; a non-owner's ANALYZE is skipped).
  'analyze_wave_members()',
];

/** Sequences of the tables it inserts into: USAGE only (nextval: a batch takes its id before its row exists). */
const SEQUENCE_PRIVILEGE = 'USAGE';

const ALL_TABLE_PRIVILEGES = ['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER'] as const;

interface Relation {
  name: string;
  kind: string;
}

async function relations(
  sql: RoleSql,
): Promise<{ tables: string[]; sequences: { name: string; table: string | null }[] }> {
  const rows = await sql<Relation & { owned_by: string | null }>(
    `SELECT c.relname AS name, c.relkind AS kind,
            (SELECT t.relname FROM pg_depend d JOIN pg_class t ON t.oid = d.refobjid
              WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.refclassid = 'pg_class'::regclass
                AND d.deptype IN ('a', 'i') LIMIT 1) AS owned_by
       FROM pg_class c
      WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
        AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_class'::regclass AND e.objid = c.oid
                         AND e.deptype = 'e')
      ORDER BY c.relname`,
  );
  return {
    tables: rows.filter((r) => r.kind !== 'S').map((r) => r.name),
    sequences: rows.filter((r) => r.kind === 'S').map((r) => ({ name: r.name, table: r.owned_by })),
  };
}

async function schemaFunctions(sql: RoleSql): Promise<string[]> {
  const rows = await sql<{ signature: string }>(
    `SELECT p.oid::regprocedure::text AS signature FROM pg_proc p
      WHERE p.pronamespace = 'public'::regnamespace
        AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_proc'::regclass AND e.objid = p.oid
                         AND e.deptype = 'e')
      ORDER BY 1`,
  );
  return rows.map((r) => r.signature);
}

/**
 * Tables without a decision, and decisions without a table or function: each means the code and the schema disagree.
 */
function undecided(tables: string[], functions: string[]): string[] {
  const missing = tables.filter((t) => !(t in RUNTIME_TABLE_GRANTS));
  const stale = Object.keys(RUNTIME_TABLE_GRANTS).filter((t) => !tables.includes(t));
  const staleFunctions = RUNTIME_FUNCTION_GRANTS.filter((f) => !functions.includes(f));
  return [
    ...missing.map((t) => `table ${t} has no runtime grant decision (add it to RUNTIME_TABLE_GRANTS in libs/db)`),
    ...stale.map((t) => `RUNTIME_TABLE_GRANTS names ${t}, which no migration creates`),
    ...staleFunctions.map((f) => `RUNTIME_FUNCTION_GRANTS names ${f}, which no migration creates`),
  ];
}

function insertable(table: string | null): boolean {
  return table !== null && (RUNTIME_TABLE_GRANTS[table]?.privileges.includes('INSERT') ?? false);
}

/**
 * Gives `role` exactly the declared privileges in the current database, as the owner, in one transaction the caller
 * opened: every table, sequence and function of the schema is first revoked from the role and from PUBLIC, then
 * granted as declared. Also USAGE (not CREATE) on the schema, and CONNECT and TEMPORARY (the import's staging
 * table) on the database. Safe to run again; throws, before changing anything, on a table without a decision.
 */
export async function applyRuntimeGrants(sql: RoleSql, role: string): Promise<void> {
  const { tables, sequences } = await relations(sql);
  const functions = await schemaFunctions(sql);
  const problems = undecided(tables, functions);
  if (problems.length) throw new DatabaseRoleError(`runtime grants: ${problems.join('; ')}`);
  const r = escapeIdentifier(role);
  await sql(`GRANT CONNECT, TEMPORARY ON DATABASE ${escapeIdentifier(await currentDatabase(sql))} TO ${r}`);
  await sql(`GRANT USAGE ON SCHEMA public TO ${r}`);
  // PostgreSQL 15 no longer gives PUBLIC CREATE on the public schema; older clusters and upgraded ones still may.
  const [{ can_create }] = await sql<{ can_create: boolean }>(
    `SELECT has_schema_privilege($1::name, 'public', 'CREATE') AS can_create`,
    [role],
  );
  if (can_create) await sql(`REVOKE CREATE ON SCHEMA public FROM PUBLIC, ${r}`);
  for (const table of tables) {
    const t = escapeIdentifier(table);
    const grant = RUNTIME_TABLE_GRANTS[table];
    await sql(`REVOKE ALL ON TABLE ${t} FROM PUBLIC, ${r}`);
    if (grant.privileges.length) await sql(`GRANT ${grant.privileges.join(', ')} ON TABLE ${t} TO ${r}`);
    if (grant.updateColumns?.length) {
      await sql(`GRANT UPDATE (${grant.updateColumns.map(escapeIdentifier).join(', ')}) ON TABLE ${t} TO ${r}`);
    }
  }
  for (const s of sequences) {
    const q = escapeIdentifier(s.name);
    await sql(`REVOKE ALL ON SEQUENCE ${q} FROM PUBLIC, ${r}`);
    if (insertable(s.table)) await sql(`GRANT ${SEQUENCE_PRIVILEGE} ON SEQUENCE ${q} TO ${r}`);
  }
  for (const signature of functions) {
    // A regprocedure text is already quoted where it needs to be.
    await sql(`REVOKE ALL ON FUNCTION ${signature} FROM PUBLIC, ${r}`);
    if (RUNTIME_FUNCTION_GRANTS.includes(signature)) await sql(`GRANT EXECUTE ON FUNCTION ${signature} TO ${r}`);
  }
}

async function currentDatabase(sql: RoleSql): Promise<string> {
  return (await sql<{ name: string }>(`SELECT current_database() AS name`))[0].name;
}

/**
 * Every difference between what `role` may do in the current database (directly, through PUBLIC or through a role it
 * belongs to) and the declarations above, as readable lines: none when the grants are exact.
 */
export async function runtimeGrantDrift(sql: RoleSql, role: string): Promise<string[]> {
  const { tables, sequences } = await relations(sql);
  const functions = await schemaFunctions(sql);
  const drift = undecided(tables, functions);
  for (const table of tables) {
    const grant = RUNTIME_TABLE_GRANTS[table];
    if (!grant) continue;
    const [actual] = await sql<{ table_level: string[]; update_columns: string[]; any_column: string[] }>(
      `SELECT ARRAY(SELECT p FROM unnest($3::text[]) AS p WHERE has_table_privilege($1::name, $2::regclass, p)) AS table_level,
              ARRAY(SELECT a.attname::text FROM pg_attribute a
                     WHERE a.attrelid = $2::regclass AND a.attnum > 0 AND NOT a.attisdropped
                       AND has_column_privilege($1::name, $2::regclass, a.attnum, 'UPDATE') ORDER BY a.attname) AS update_columns,
              ARRAY(SELECT p FROM unnest(ARRAY['SELECT', 'INSERT', 'REFERENCES']) AS p
                     WHERE has_any_column_privilege($1::name, $2::regclass, p)) AS any_column`,
      [role, escapeIdentifier(table), ALL_TABLE_PRIVILEGES],
    );
    const expected = new Set<string>(grant.privileges);
    const extra = actual.table_level.filter((p) => !expected.has(p));
    const missing = grant.privileges.filter((p) => !actual.table_level.includes(p));
    // Column grants beyond the table's: SELECT, INSERT or REFERENCES on some column only.
    const columnOnly = actual.any_column.filter((p) => !expected.has(p) && !extra.includes(p));
    extra.push(...columnOnly.map((p) => `${p} (some columns)`));
    if (extra.length) drift.push(`${table}: ${role} may ${extra.join(', ')}, which is not declared`);
    if (missing.length) drift.push(`${table}: ${role} lacks declared ${missing.join(', ')}`);
    if (!expected.has('UPDATE')) {
      const want = [...(grant.updateColumns ?? [])].sort();
      if (want.join() !== actual.update_columns.join()) {
        drift.push(
          `${table}: ${role} may UPDATE columns [${actual.update_columns.join(', ')}], declared [${want.join(', ')}]`,
        );
      }
    }
  }
  for (const s of sequences) {
    const [actual] = await sql<{ privileges: string[] }>(
      `SELECT ARRAY(SELECT p FROM unnest(ARRAY['USAGE', 'SELECT', 'UPDATE']) AS p
                     WHERE has_sequence_privilege($1::name, $2::regclass, p)) AS privileges`,
      [role, escapeIdentifier(s.name)],
    );
    const want = insertable(s.table) ? [SEQUENCE_PRIVILEGE] : [];
    if (actual.privileges.join() !== want.join()) {
      drift.push(`sequence ${s.name}: ${role} may [${actual.privileges.join(', ')}], declared [${want.join(', ')}]`);
    }
  }
  for (const signature of functions) {
    const [{ allowed }] = await sql<{ allowed: boolean }>(
      `SELECT has_function_privilege($1::name, $2::regprocedure, 'EXECUTE') AS allowed`,
      [role, signature],
    );
    if (allowed !== RUNTIME_FUNCTION_GRANTS.includes(signature)) {
      drift.push(`function ${signature}: ${role} ${allowed ? 'may' : 'may not'} EXECUTE it, declared the opposite`);
    }
  }
  const [schema] = await sql<{ usage: boolean; create: boolean }>(
    `SELECT has_schema_privilege($1::name, 'public', 'USAGE') AS usage, has_schema_privilege($1::name, 'public', 'CREATE') AS create`,
    [role],
  );
  if (!schema.usage) drift.push(`schema public: ${role} lacks USAGE`);
  if (schema.create) drift.push(`schema public: ${role} may CREATE objects`);
  return drift;
}
