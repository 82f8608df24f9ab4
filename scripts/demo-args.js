// The demo's command line and where it finds PostgreSQL and Redis: pure functions, unit-tested
// (apps/cli/src/demo/demo-args.spec.ts). Node's own util.parseArgs (strict: an unknown flag is an error, never
// ignored); plain JavaScript because it runs before anything is installed or built.
'use strict';
const { parseArgs } = require('node:util');

const USAGE = `usage: npm run demo [-- options]

Plays the 9 May / 11 May reopening against the mailstore simulator: installs what is missing, builds, resets
and migrates its own database (reopen_demo), starts the simulator, a worker and the API, and tells the story
through the HTTP API. When nothing answers at the default PostgreSQL or Redis address (and no variable names one), it
starts its own (an embedded PostgreSQL 15 from npm, redis-server from PATH) and stops them at the end.

options:
  --mailstore=dovecot  a real Dovecot instead of the simulator: the dovecot-sql driver on a passdb table in the demo's
                 PostgreSQL (database reopen_demo_mail), Dovecot on free loopback ports from a config in a temp folder;
                 the story ends with real IMAP and POP3 logins. Needs Debian's dovecot-core dovecot-imapd
                 dovecot-pop3d dovecot-pgsql (installed by the demo when it runs as root on Debian)
  --no-keep      exit at the end (default: everything stays up until Ctrl-C)
  --no-build     do not build first (CI, which has just built)
  --no-install   do not run npm ci when node_modules is missing or stale
  -h, --help     this text

environment (defaults in brackets):
  DEMO_DATABASE_URL      PostgreSQL as the owner, naming the demo's database (dropped and re-created on every run)
                         [OWNER_DATABASE_URL or DATABASE_URL's server and credentials, database reopen_demo;
                          else postgres://root@127.0.0.1:5432/reopen_demo]
  DEMO_APP_DATABASE_URL  PostgreSQL as the runtime role the API and worker use [the owner URL with user reopen_app,
                         password reopen-demo-app when the owner URL has one]
  REDIS_URL              [redis://127.0.0.1:6379]     REDIS_PREFIX  [reopen-demo]
  PORT                   API port [3000]              SIM_PORT      simulator port [8025]
  DEMO_ACCOUNTS          population size [200000]     DEMO_TIMEOUT_S [240]
  DEMO_SUMMARY_FILE      write the summary as JSON there
`;

const MAILSTORES = ['simulator', 'dovecot'];

/** The flags; throws a one-line Error for an unknown flag or a stray argument. */
function parseDemoArgs(argv) {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        'no-keep': { type: 'boolean' },
        'no-build': { type: 'boolean' },
        'no-install': { type: 'boolean' },
        mailstore: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new Error(`${err.message.split('\n')[0]} (see npm run demo -- --help)`);
  }
  const mailstore = values.mailstore ?? 'simulator';
  if (!MAILSTORES.includes(mailstore)) {
    throw new Error(
      `--mailstore must be one of ${MAILSTORES.join(', ')}, not "${mailstore}" (see npm run demo -- --help)`,
    );
  }
  return {
    help: values.help === true,
    mailstore,
    keep: values['no-keep'] !== true,
    build: values['no-build'] !== true,
    install: values['no-install'] !== true,
  };
}

/**
 * Where the demo's PostgreSQL is, and from which variable: DEMO_DATABASE_URL as given; else the server and
 * credentials of OWNER_DATABASE_URL or DATABASE_URL with the demo's own database (the demo drops it: it never
 * touches the database those name); else the developer default.
 */
function demoDatabaseUrls(env) {
  let owner;
  let source;
  if (env.DEMO_DATABASE_URL) {
    owner = env.DEMO_DATABASE_URL;
    source = 'DEMO_DATABASE_URL';
  } else {
    source = env.OWNER_DATABASE_URL ? 'OWNER_DATABASE_URL' : env.DATABASE_URL ? 'DATABASE_URL' : 'default';
    const base = new URL(env.OWNER_DATABASE_URL || env.DATABASE_URL || 'postgres://root@127.0.0.1:5432/postgres');
    base.pathname = '/reopen_demo';
    owner = base.toString();
  }
  const app = env.DEMO_APP_DATABASE_URL || asRole(owner, 'reopen_app');
  return { owner, app, source };
}

/**
 * The runtime role on the owner's server. A server that asks the owner for a password asks this role too: it gets
 * the demo's own (migrate sets it when the role cannot log in with it); a trusting server gets none.
 */
function asRole(url, role) {
  const u = new URL(url);
  u.username = role;
  u.password = u.password ? DEMO_APP_PASSWORD : '';
  return u.toString();
}

/** Not a secret: the demo's runtime role, on a demo database. */
const DEMO_APP_PASSWORD = 'reopen-demo-app';

module.exports = { USAGE, parseDemoArgs, demoDatabaseUrls };
