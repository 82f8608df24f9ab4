import { randomBytes } from 'node:crypto';
import { createConnection } from 'mysql2/promise';
import { Client } from 'pg';
import { quoteIdent, withDatabase } from '../../db/src/database-url';
import { requirePostgres } from './prerequisites';
import { runDatabasePrefix, runId, TEST_SERVER_URL } from './test-env';

/**
 * A passdb database of the test's own, as an operator has one: a table Dovecot's SQL passdb reads, holding the
 * per-protocol switches the `dovecot-sql` driver writes. PostgreSQL: a database on the tests' server (the run's
 * prefix, so the global teardown drops a leftover); MariaDB/MySQL: a database on TEST_MYSQL_URL
 * (default mysql://root@127.0.0.1:3306/mysql), dropped by drop().
 */
export type PassdbDialect = 'postgres' | 'mysql';
/** `columns`: imap_enabled + pop3_enabled; `list`: allowed_protocols ('imap,pop3'). */
export type PassdbLayout = 'columns' | 'list';

export const TEST_MYSQL_URL = process.env.TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/mysql';

export interface PassdbDatabase {
  dialect: PassdbDialect;
  layout: PassdbLayout;
  /** For the driver (DOVECOT_SQL_URL). */
  url: string;
  /** Dovecot's `connect =` value for this database. */
  dovecotConnect: string;
  /** The table and columns, as the driver is configured with them (the names of deploy/dovecot/'s example). */
  table: 'mail_users';
  /** Adds accounts (password in clear, `{PLAIN}` for Dovecot), every protocol closed. */
  addAccounts(accounts: readonly { login: string; password: string }[]): Promise<void>;
  /** What the passdb holds now, read behind the driver's back. */
  flags(login: string): Promise<{ imap: boolean; pop3: boolean; version: number } | undefined>;
  /** The switches of each of these logins the passdb holds (one query), read behind the driver's back. */
  switches(logins: readonly string[]): Promise<Map<string, { imap: boolean; pop3: boolean }>>;
  /** Any statement (fixtures: a concurrent change, a list with other names). `?` placeholders on both dialects. */
  exec(sql: string, params?: unknown[]): Promise<void>;
  /** The rows of a query, as the database returns them. */
  query(sql: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  drop(): Promise<void>;
}

export async function createPassdbDatabase(dialect: PassdbDialect, layout: PassdbLayout): Promise<PassdbDatabase> {
  const name = `${dialect === 'postgres' ? runDatabasePrefix(runId()) : `reopen_test_${runId()}`}_passdb_${randomBytes(3).toString('hex')}`;
  const flagsDdl =
    layout === 'columns'
      ? 'imap_enabled BOOLEAN NOT NULL DEFAULT FALSE, pop3_enabled BOOLEAN NOT NULL DEFAULT FALSE'
      : 'allowed_protocols VARCHAR(255)';
  const ddl =
    `CREATE TABLE mail_users (email VARCHAR(255) PRIMARY KEY, password VARCHAR(255) NOT NULL, ${flagsDdl}, ` +
    `access_version BIGINT NOT NULL DEFAULT 0)`;
  return dialect === 'postgres' ? postgresPassdb(name, layout, ddl) : mysqlPassdb(name, layout, ddl);
}

function readFlags(layout: PassdbLayout, row: Record<string, unknown> | undefined) {
  if (!row) return undefined;
  const version = Number(row.access_version);
  if (layout === 'columns') return { imap: Boolean(row.imap_enabled), pop3: Boolean(row.pop3_enabled), version };
  const names = (typeof row.allowed_protocols === 'string' ? row.allowed_protocols : '').toLowerCase().split(/[\s,]+/);
  return { imap: names.includes('imap'), pop3: names.includes('pop3'), version };
}

/** Rows of mail_users as each login's switches (PostgreSQL answers booleans, MySQL 0/1: readFlags reads both). */
function switchesOf(
  layout: PassdbLayout,
  rows: Record<string, unknown>[],
): Map<string, { imap: boolean; pop3: boolean }> {
  return new Map(
    rows.map((row) => {
      const { imap, pop3 } = readFlags(layout, row)!;
      return [row.email as string, { imap, pop3 }];
    }),
  );
}

/** The dovecot-sql driver's settings for a passdb of the `columns` layout (deploy/dovecot/README.md's names). */
export function dovecotSqlEnv(passdb: Pick<PassdbDatabase, 'url' | 'table'>): Record<string, string> {
  return {
    MAILSTORE_DRIVER: 'dovecot-sql',
    DOVECOT_SQL_URL: passdb.url,
    DOVECOT_SQL_TABLE: passdb.table,
    DOVECOT_SQL_LOGIN_COLUMN: 'email',
    DOVECOT_SQL_IMAP_COLUMN: 'imap_enabled',
    DOVECOT_SQL_POP3_COLUMN: 'pop3_enabled',
    DOVECOT_SQL_VERSION_COLUMN: 'access_version',
  };
}

/** Dovecot's `connect =` value for a PostgreSQL database URL. */
export function postgresDovecotConnect(url: string): string {
  const u = new URL(url);
  return [
    `host=${u.hostname}`,
    `port=${u.port || 5432}`,
    `dbname=${decodeURIComponent(u.pathname.slice(1))}`,
    `user=${decodeURIComponent(u.username) || 'postgres'}`,
    ...(u.password ? [`password=${decodeURIComponent(u.password)}`] : []),
  ].join(' ');
}

async function postgresPassdb(name: string, layout: PassdbLayout, ddl: string): Promise<PassdbDatabase> {
  requirePostgres();
  const admin = new Client({ connectionString: TEST_SERVER_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${quoteIdent(name)}`);
  } finally {
    await admin.end();
  }
  const url = withDatabase(TEST_SERVER_URL, name);
  const c = new Client({ connectionString: url });
  await c.connect();
  await c.query(ddl);
  const numbered = (sql: string) => {
    let n = 0;
    return sql.replace(/\?/g, () => `$${++n}`);
  };
  return {
    dialect: 'postgres',
    layout,
    url,
    dovecotConnect: postgresDovecotConnect(url),
    table: 'mail_users',
    addAccounts: async (accounts) => {
      await c.query(`INSERT INTO mail_users (email, password) SELECT * FROM unnest($1::text[], $2::text[])`, [
        accounts.map((a) => a.login),
        accounts.map((a) => `{PLAIN}${a.password}`),
      ]);
    },
    flags: async (login) =>
      readFlags(layout, (await c.query('SELECT * FROM mail_users WHERE email = $1', [login])).rows[0]),
    switches: async (logins) =>
      switchesOf(layout, (await c.query('SELECT * FROM mail_users WHERE email = ANY($1::text[])', [logins])).rows),
    exec: async (sql, params = []) => {
      await c.query(numbered(sql), params);
    },
    query: async (sql, params = []) => (await c.query<Record<string, unknown>>(numbered(sql), params)).rows,
    drop: async () => {
      await c.end();
      const a = new Client({ connectionString: TEST_SERVER_URL });
      await a.connect();
      try {
        await a.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
      } finally {
        await a.end();
      }
    },
  };
}

async function mysqlPassdb(name: string, layout: PassdbLayout, ddl: string): Promise<PassdbDatabase> {
  const admin = await createConnection(TEST_MYSQL_URL).catch((err: Error) => {
    throw new Error(
      `MariaDB/MySQL is needed (dovecot-sql driver tests) and did not answer at TEST_MYSQL_URL ` +
        `(default mysql://root@127.0.0.1:3306/mysql): ${err.message}`,
    );
  });
  await admin.query(`CREATE DATABASE \`${name}\``);
  await admin.changeUser({ database: name });
  await admin.query(ddl);
  const u = new URL(TEST_MYSQL_URL);
  u.pathname = `/${name}`;
  return {
    dialect: 'mysql',
    layout,
    url: u.toString(),
    dovecotConnect: [
      `host=${u.hostname}`,
      `port=${u.port || 3306}`,
      `dbname=${name}`,
      `user=${decodeURIComponent(u.username) || 'root'}`,
      ...(u.password ? [`password=${decodeURIComponent(u.password)}`] : []),
    ].join(' '),
    table: 'mail_users',
    addAccounts: async (accounts) => {
      await admin.query('INSERT INTO mail_users (email, password) VALUES ?', [
        accounts.map((a) => [a.login, `{PLAIN}${a.password}`]),
      ]);
    },
    flags: async (login) => {
      const [rows] = await admin.query('SELECT * FROM mail_users WHERE email = ?', [login]);
      return readFlags(layout, (rows as Record<string, unknown>[])[0]);
    },
    switches: async (logins) => {
      if (!logins.length) return new Map();
      const [rows] = await admin.query('SELECT * FROM mail_users WHERE email IN (?)', [logins]);
      return switchesOf(layout, rows as Record<string, unknown>[]);
    },
    exec: async (sql, params = []) => {
      await admin.query(sql, params);
    },
    query: async (sql, params = []) => (await admin.query(sql, params))[0] as Record<string, unknown>[],
    drop: async () => {
      try {
        await admin.query(`DROP DATABASE IF EXISTS \`${name}\``);
      } finally {
        await admin.end();
      }
    },
  };
}

/**
 * deploy/dovecot/README.md's table on PostgreSQL (a column per protocol and a version column), with `count` mailboxes
 * user1..userN@example.test, every protocol closed, one password for all: the passdb of the demo's Dovecot
 * (`npm run demo -- --mailstore=dovecot`) and of bench:driver.
 */
export async function seedMailUsersTable(c: Client, count: number, password: string): Promise<void> {
  await c.query(
    `CREATE TABLE mail_users (email TEXT PRIMARY KEY, password TEXT NOT NULL,
       imap_enabled BOOLEAN NOT NULL DEFAULT FALSE, pop3_enabled BOOLEAN NOT NULL DEFAULT FALSE,
       access_version BIGINT NOT NULL DEFAULT 0)`,
  );
  await c.query(
    `INSERT INTO mail_users (email, password)
     SELECT 'user' || n || '@example.test', '{PLAIN}' || $2::text FROM generate_series(1, $1::int) AS n`,
    [count, password],
  );
  await c.query('ANALYZE mail_users');
}
