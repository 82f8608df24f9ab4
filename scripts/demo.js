#!/usr/bin/env node
// `npm run demo`, the README's first command. Brings PostgreSQL and Redis (scripts/services.js: the configured or
// default ones, else an embedded PostgreSQL and a redis-server of its own, stopped at the end), installs what is
// missing, builds, resets and migrates a dedicated demo database, starts the mailstore simulator, a worker and the API, then plays the reopening story
// (dist/apps/cli/src/demo/main.js). `--no-keep` exits after the story; otherwise everything stays up until Ctrl-C.
// `--no-build` and `--no-install` skip those steps (CI, which has just built); `--help` says it all.
// `--mailstore=dovecot` puts a real Dovecot in the simulator's place (installed when it can, see ensureDovecot).
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const { existsSync, rmSync, writeFileSync } = require('node:fs');
const net = require('node:net');
const { join } = require('node:path');
const services = require('./services');
const { needsInstall, install: npmCi } = require('./install');

const root = join(__dirname, '..');
const { USAGE, parseDemoArgs, demoDatabaseUrls } = require('./demo-args');
let flags;
try {
  flags = parseDemoArgs(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`demo: ${err.message}\n`);
  process.exit(2);
}
if (flags.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const { keep, build, install } = flags;
/** `--mailstore=dovecot`: a real Dovecot driven by the dovecot-sql driver instead of the simulator. */
const withDovecot = flags.mailstore === 'dovecot';
const startedAt = Date.now();

const accounts = process.env.DEMO_ACCOUNTS ?? '200000';
// Two roles, as deployed (docs/security.md, "Database roles"): the owner resets and migrates the demo database and
// makes the API keys; the simulator, the worker and the API never see its URL. They connect as the runtime role
// (DEMO_APP_DATABASE_URL, by default `reopen_app` without a password: trust on 127.0.0.1), which migrate creates
// and grants exactly what the service needs.
// Where they are configured; `main` replaces them with the servers the bootstrap started, if it started any.
let database = demoDatabaseUrls(process.env);
const env = {
  ...process.env,
  DATABASE_URL: database.app,
  REDIS_URL: process.env.REDIS_URL || services.DEFAULT_REDIS_URL,
  REDIS_PREFIX: process.env.REDIS_PREFIX ?? 'reopen-demo',
  PORT: process.env.PORT ?? '3000',
  SIM_PORT: process.env.SIM_PORT ?? '8025',
  DEMO_ACCOUNTS: accounts,
  // The mailstore already holds every mailbox: user1..userN@example.test, the logins of the story's population.
  SIM_ACCOUNTS: process.env.SIM_ACCOUNTS ?? accounts,
  // A provider sized for the night: 20,000 account updates per second for our credential.
  SIM_RATE_LIMITS:
    process.env.SIM_RATE_LIMITS ??
    JSON.stringify({
      requestsPerSecond: 200,
      requestBurst: 400,
      accountUpdatesPerSecond: 20000,
      accountUpdateBurst: 20000,
    }),
  // The apps' JSON logs are not shown (the story is); errors still reach stderr.
  LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
};
env.MAILSTORE_URL = process.env.MAILSTORE_URL ?? `http://127.0.0.1:${env.SIM_PORT}/v1`;
env.MAILSTORE_TOKEN = process.env.MAILSTORE_TOKEN ?? 'sim-token';
delete env.OWNER_DATABASE_URL;
/** For the two steps that act as the owner: migrate, and the story (its API keys). */
const ownerEnv = () => ({ ...env, OWNER_DATABASE_URL: database.owner });
const databaseName = decodeURIComponent(new URL(database.owner).pathname.slice(1));

/** What the bootstrap probes: the owner's server (its `postgres` database: the demo's may not exist yet) and Redis. */
function serviceTargets() {
  const server = new URL(database.owner);
  server.pathname = '/postgres';
  return {
    postgres: { url: server.toString(), variable: database.source === 'default' ? undefined : database.source },
    redis: { url: env.REDIS_URL, variable: process.env.REDIS_URL ? 'REDIS_URL' : undefined },
  };
}

function say(line) {
  process.stdout.write(`${line}\n`);
}

function run(cmd, args, what, runEnv = env) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: runEnv });
  if (r.status !== 0) {
    say(`demo: ${what} failed (exit ${r.status}).`);
    process.exit(1);
  }
}

function portFree(port) {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(Number(port), () => server.close(() => resolve(true)));
  });
}

/** A fresh world on every run: the demo database is dropped (migrate re-creates it) and its Redis keys deleted. */
async function resetState() {
  if (['postgres', 'template0', 'template1'].includes(databaseName)) {
    throw new Error(`${database.source} names "${databaseName}": the demo drops its database, give it its own`);
  }
  const { Client } = require('pg');
  const admin = new URL(database.owner);
  admin.pathname = '/postgres';
  const pg = new Client({ connectionString: admin.toString() });
  await pg.connect();
  try {
    await pg.query(`DROP DATABASE IF EXISTS "${databaseName.replace(/"/g, '""')}" WITH (FORCE)`);
  } finally {
    await pg.end();
  }
  const Redis = require('ioredis');
  const redis = new Redis(env.REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 2 });
  await redis.connect();
  let deleted = 0;
  try {
    // BullMQ queues, the shared pace and the API's rate limiter all live under "<prefix>:".
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${env.REDIS_PREFIX}:*`, 'COUNT', 1000);
      if (keys.length) deleted += await redis.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return deleted;
}

const children = [];
function start(name, script, options = {}) {
  const child = spawn(process.execPath, [...(options.nodeFlags ?? []), join(root, script)], {
    cwd: root,
    env: options.env ?? env,
    stdio: options.inherit ? 'inherit' : ['ignore', 'pipe', 'pipe'],
  });
  if (!options.inherit) {
    child.stdout.on('data', () => undefined); // logs stay out of the story; they are JSON lines for real deployments
    child.stderr.on('data', (d) => process.stderr.write(`[${name}] ${d}`));
  }
  child.on('exit', (code, signal) => {
    if (!shuttingDown && !options.expectExit) {
      say(`demo: ${name} exited unexpectedly (${signal ?? code}).`);
      shutdown(1);
    }
  });
  children.push(child);
  return child;
}

let shuttingDown = false;
function shutdown(code) {
  if (shuttingDown) return;
  shuttingDown = true;
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  // The servers the bootstrap started stop on process exit (scripts/services.js), after the apps have.
  const deadline = setTimeout(() => {
    for (const c of children) c.kill('SIGKILL');
    process.exit(code);
  }, 10_000);
  Promise.all(
    children.map((c) => (c.exitCode !== null || c.signalCode !== null ? null : new Promise((r) => c.once('exit', r)))),
  ).then(() => {
    clearTimeout(deadline);
    process.exit(code);
  });
}

async function waitForHttp(url, what, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url);
      if (res.status < 500) return true;
    } catch {
      // not up yet
    }
    if (shuttingDown) return false;
    await new Promise((r) => setTimeout(r, 200));
  }
  say(`demo: ${what} did not come up at ${url} within ${timeoutMs / 1000} s.`);
  shutdown(1);
  return false;
}

const DOVECOT_PACKAGES = ['dovecot-core', 'dovecot-imapd', 'dovecot-pop3d', 'dovecot-pgsql'];

/**
 * Dovecot for `--mailstore=dovecot`: Debian's packages, installed with apt-get when missing and this runs as root (a
 * policy-rc.d that exits 101 keeps apt from starting the system Dovecot, as .ci/run does); otherwise one line saying
 * how, and exit 1.
 */
function ensureDovecot() {
  const how =
    `--mailstore=dovecot needs Dovecot: as root, apt-get install ${DOVECOT_PACKAGES.join(' ')} ` +
    '(a /usr/sbin/policy-rc.d that exits 101 keeps apt from starting the system service), or run without it.';
  const listed = spawnSync('dpkg-query', ['-W', '-f=${Package} ${Status}\\n', ...DOVECOT_PACKAGES], {
    encoding: 'utf8',
  });
  if (listed.error) {
    // Not Debian: a Dovecot installed some other way will do.
    if (existsSync(process.env.DOVECOT_BIN ?? '/usr/sbin/dovecot')) return;
    say(`demo: ${how}`);
    process.exit(1);
  }
  const installed = new Set(
    listed.stdout
      .split('\n')
      .filter((l) => l.endsWith('install ok installed'))
      .map((l) => l.split(' ')[0]),
  );
  const missing = DOVECOT_PACKAGES.filter((p) => !installed.has(p));
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0 || !existsSync('/usr/bin/apt-get')) {
    say(`demo: ${how}`);
    process.exit(1);
  }
  say(`demo: installing ${missing.join(' ')} (apt-get; the system Dovecot is not started)…`);
  const guard = '/usr/sbin/policy-rc.d';
  const guarded = !existsSync(guard);
  if (guarded) writeFileSync(guard, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
  try {
    const aptEnv = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    for (const args of [
      ['update', '-qq'],
      ['install', '-y', '-qq', ...missing],
    ]) {
      const r = spawnSync('apt-get', args, { stdio: ['ignore', 'ignore', 'inherit'], env: aptEnv });
      if (r.status !== 0) {
        say(`demo: apt-get ${args[0]} failed (exit ${r.status}). ${how}`);
        process.exit(1);
      }
    }
  } finally {
    if (guarded) rmSync(guard, { force: true });
  }
}

/**
 * Starts the demo's Dovecot (dist/apps/cli/src/demo/dovecot-main.js: its passdb table in the demo's PostgreSQL, the
 * server on free loopback ports) and resolves with what it printed: the worker's driver settings and the ports.
 */
function startDovecot() {
  const child = start('dovecot', 'dist/apps/cli/src/demo/dovecot-main.js', { env: ownerEnv() });
  return new Promise((resolve) => {
    let out = '';
    const onData = (d) => {
      out += d;
      const line = out.split('\n')[0];
      if (out.includes('\n')) {
        child.stdout.off('data', onData);
        resolve(JSON.parse(line));
      }
    };
    child.stdout.on('data', onData);
  });
}

async function main() {
  // The services first: before a long install, say what is missing.
  let plan;
  try {
    plan = await services.preflight(serviceTargets());
  } catch (err) {
    if (!(err instanceof services.ServiceError)) throw err;
    say(`demo: ${err.message.replace(/\n/g, '\n      ')}`);
    process.exit(1);
  }
  if (withDovecot) ensureDovecot();
  for (const [name, port] of [['PORT', env.PORT], ...(withDovecot ? [] : [['SIM_PORT', env.SIM_PORT]])]) {
    if (!(await portFree(port))) {
      say(`demo: port ${port} is in use (is another demo still running?). Stop it, or choose another ${name}=….`);
      process.exit(1);
    }
  }
  if (install && needsInstall()) {
    for (const line of services.describePlan(plan)) say(`demo: ${line}`);
    say('demo: installing dependencies (npm ci)…');
    if (!npmCi()) {
      say('demo: npm ci failed.');
      process.exit(1);
    }
  }
  let running;
  try {
    running = await services.bring(plan);
  } catch (err) {
    if (!(err instanceof services.ServiceError)) throw err;
    say(`demo: ${err.message}`);
    process.exit(1);
  }
  for (const line of running.lines) say(`demo: ${line}`);
  if (plan.postgres.action === 'embedded') {
    // The demo's database on the server just started, as its superuser; the runtime role gets a password there.
    database = demoDatabaseUrls({ OWNER_DATABASE_URL: running.postgresUrl });
    env.DATABASE_URL = database.app;
  }
  env.REDIS_URL = running.redisUrl;
  if (build) {
    say('demo: building…');
    run('npm', ['run', '-s', 'build'], 'build');
  }
  const deleted = await resetState();
  say(`demo: reset database ${databaseName} and ${deleted} Redis keys under "${env.REDIS_PREFIX}:"; migrating…`);
  run(process.execPath, ['dist/apps/cli/src/main.js', 'migrate'], 'migration', ownerEnv());

  process.on('SIGINT', () => shutdown(0));
  process.on('SIGTERM', () => shutdown(0));
  let dovecot = null;
  if (withDovecot) {
    say(`demo: starting Dovecot (${env.DEMO_ACCOUNTS} mailboxes in its SQL passdb, database ${databaseName}_mail)…`);
    dovecot = await startDovecot();
    // The worker drives it through the dovecot-sql driver; the story logs in to it at the end.
    Object.assign(env, dovecot.env, {
      DEMO_IMAP_PORT: String(dovecot.imapPort),
      DEMO_POP3_PORT: String(dovecot.pop3Port),
    });
    say(`demo: starting a worker (MAILSTORE_DRIVER=dovecot-sql) and the API…`);
  } else {
    say(`demo: starting the mailstore simulator (${env.SIM_ACCOUNTS} mailboxes), a worker and the API…`);
    start('mailstore-sim', 'dist/apps/mailstore-sim/src/main.js');
    if (!(await waitForHttp(`http://127.0.0.1:${env.SIM_PORT}/_sim/counters`, 'the mailstore simulator'))) return;
  }
  // The node flags of `npm run start:worker`, as deployed.
  const nodeFlags = require('../package.json')
    .scripts['start:worker'].split(' ')
    .filter((a) => a.startsWith('--'));
  start('worker', 'dist/apps/worker/src/main.js', { nodeFlags });
  start('api', 'dist/apps/api/src/main.js');
  if (!(await waitForHttp(`http://127.0.0.1:${env.PORT}/api/v1/health/live`, 'the API'))) return;
  say(`demo: stack up in ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
  say('');

  const story = 'dist/apps/cli/src/demo/main.js';
  if (!existsSync(join(root, story))) {
    say('demo: the story is not built (dist/apps/cli/src/demo/main.js); run "npm run build".');
    return shutdown(1);
  }
  // Not spawnSync: this process must keep draining the apps' output while the story runs.
  const code = await new Promise((resolve) =>
    start('story', story, { inherit: true, expectExit: true, env: ownerEnv() }).once('exit', (c, signal) =>
      resolve(signal ? 1 : c),
    ),
  );
  if (shuttingDown) return;
  if (code !== 0) {
    say(`demo: the story failed (exit ${code}).`);
    return shutdown(1);
  }
  say('');
  say(`  API        http://127.0.0.1:${env.PORT}/api/v1/health/ready`);
  if (dovecot) {
    say(
      `  Dovecot    IMAP 127.0.0.1:${dovecot.imapPort}, POP3 127.0.0.1:${dovecot.pop3Port} (every mailbox's password: ${dovecot.password})`,
    );
  } else {
    say(`  simulator  ${env.MAILSTORE_URL}  (admin: http://127.0.0.1:${env.SIM_PORT}/_sim/counters)`);
  }
  say(`demo: done in ${((Date.now() - startedAt) / 1000).toFixed(1)} s.`);
  if (!keep) return shutdown(0);
  say('Everything stays up for you to explore. Press Ctrl-C to stop everything.');
}

main().catch((err) => {
  say(`demo: ${err.stack ?? err}`);
  shutdown(1);
});
