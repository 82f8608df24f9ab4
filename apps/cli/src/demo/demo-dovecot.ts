import { Client } from 'pg';
import { postgresDovecotConnect, seedMailUsersTable, startPrivateDovecot, type PrivateDovecot } from '@app/testing';

/** Every mailbox of the demo's Dovecot has this password (a demo; the story's real logins use it). */
export const DEMO_MAIL_PASSWORD = 'demo-mail';

/** What the worker needs to drive the demo's Dovecot (deploy/dovecot/README.md's settings), and the login ports. */
export interface DemoDovecot {
  env: Record<string, string>;
  imapPort: number;
  pop3Port: number;
  stop(): Promise<void>;
}

/**
 * `npm run demo -- --mailstore=dovecot`: the mailstore is a real Dovecot (Debian's packages) reading its passwords
 * and per-protocol switches from a passdb table in `<demo database>_mail` on the demo's PostgreSQL, re-created on
 * every run with `accounts` mailboxes (user1..userN@example.test, every protocol closed), as deploy/dovecot/README.md
 * asks an operator to set up. Dovecot itself runs from a config in a temp folder on free loopback ports, with the
 * shipped passdb query as is (libs/testing's private Dovecot, the one the tests prove the example with).
 */
export async function startDemoDovecot(ownerUrl: string, accounts: number): Promise<DemoDovecot> {
  const server = new URL(ownerUrl);
  const name = `${decodeURIComponent(server.pathname.slice(1))}_mail`;
  const ident = `"${name.replace(/"/g, '""')}"`;
  await onServer(server, async (c) => {
    await c.query(`DROP DATABASE IF EXISTS ${ident} WITH (FORCE)`);
    await c.query(`CREATE DATABASE ${ident}`);
  });
  const url = new URL(ownerUrl);
  url.pathname = `/${encodeURIComponent(name)}`;
  const c = new Client({ connectionString: url.toString() });
  await c.connect();
  try {
    await seedMailUsersTable(c, accounts, DEMO_MAIL_PASSWORD);
  } finally {
    await c.end();
  }
  const dovecotConnect = postgresDovecotConnect(url.toString());
  const dovecot: PrivateDovecot = await startPrivateDovecot({ dialect: 'postgres', layout: 'columns', dovecotConnect });
  return {
    env: {
      MAILSTORE_DRIVER: 'dovecot-sql',
      DOVECOT_SQL_URL: url.toString(),
      DOVECOT_SQL_TABLE: 'mail_users',
      DOVECOT_SQL_LOGIN_COLUMN: 'email',
      DOVECOT_SQL_IMAP_COLUMN: 'imap_enabled',
      DOVECOT_SQL_POP3_COLUMN: 'pop3_enabled',
      DOVECOT_SQL_VERSION_COLUMN: 'access_version',
      // The pace the simulator offers the demo (scripts/demo.js, SIM_RATE_LIMITS): the story is the same.
      DOVECOT_SQL_REQUESTS_PER_SECOND: '200',
      DOVECOT_SQL_ACCOUNT_UPDATES_PER_SECOND: '20000',
      DOVEADM_URL: dovecot.doveadmUrl,
      DOVEADM_API_KEY: dovecot.doveadmApiKey,
    },
    imapPort: dovecot.imapPort,
    pop3Port: dovecot.pop3Port,
    stop: () => dovecot.stop(),
  };
}

/** On the server's `postgres` database, as the owner (the demo's own databases are dropped and made there). */
async function onServer(server: URL, fn: (c: Client) => Promise<void>): Promise<void> {
  const admin = new URL(server.toString());
  admin.pathname = '/postgres';
  const c = new Client({ connectionString: admin.toString() });
  await c.connect();
  try {
    await fn(c);
  } finally {
    await c.end();
  }
}
