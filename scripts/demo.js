#!/usr/bin/env node
// `npm run demo`, the README's first command. Installs what is missing, builds, migrates a dedicated demo
// database, starts the mailstore simulator, a worker and the API, then plays the reopening story
// (dist/apps/cli/src/demo/*). `--no-keep` exits after the story; otherwise everything stays up until Ctrl-C.
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const { existsSync, statSync } = require('node:fs');
const net = require('node:net');
const { join } = require('node:path');

const root = join(__dirname, '..');
const keep = !process.argv.includes('--no-keep');
const env = {
  ...process.env,
  DATABASE_URL: process.env.DEMO_DATABASE_URL ?? 'postgres://root@127.0.0.1:5432/reopen_demo',
  REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  REDIS_PREFIX: process.env.REDIS_PREFIX ?? 'reopen-demo',
  PORT: process.env.PORT ?? '3000',
  SIM_PORT: process.env.SIM_PORT ?? '8025',
};
env.MAILSTORE_URL = process.env.MAILSTORE_URL ?? `http://127.0.0.1:${env.SIM_PORT}/v1`;
env.MAILSTORE_TOKEN = process.env.MAILSTORE_TOKEN ?? 'sim-token';

function say(line) {
  process.stdout.write(`${line}\n`);
}

function run(cmd, args, what) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env });
  if (r.status !== 0) {
    say(`demo: ${what} failed (exit ${r.status}).`);
    process.exit(1);
  }
}

function reachable(url, defaultPort) {
  const u = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: u.hostname, port: Number(u.port || defaultPort), timeout: 2000 });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => (socket.destroy(), resolve(false)));
  });
}

function needsInstall() {
  const lock = join(root, 'package-lock.json');
  const marker = join(root, 'node_modules', '.package-lock.json');
  return !existsSync(marker) || statSync(marker).mtimeMs < statSync(lock).mtimeMs;
}

const children = [];
function start(name, script) {
  const child = spawn(process.execPath, [join(root, script)], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.on('data', () => undefined); // logs stay out of the story; they are JSON lines for real deployments
  child.stderr.on('data', (d) => process.stderr.write(`[${name}] ${d}`));
  child.on('exit', (code, signal) => {
    if (!shuttingDown) {
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
  for (const c of children) c.kill('SIGTERM');
  const deadline = setTimeout(() => {
    for (const c of children) c.kill('SIGKILL');
    process.exit(code);
  }, 10_000);
  Promise.all(children.map((c) => (c.exitCode !== null ? null : new Promise((r) => c.once('exit', r))))).then(() => {
    clearTimeout(deadline);
    process.exit(code);
  });
}

async function waitForHttp(url, what, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url);
      if (res.status < 500) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  say(`demo: ${what} did not come up at ${url} within ${timeoutMs / 1000} s.`);
  shutdown(1);
}

async function main() {
  if (needsInstall()) {
    say('demo: installing dependencies (npm ci)…');
    run('npm', ['ci', '--no-audit', '--no-fund'], 'npm ci');
  }
  if (!(await reachable(env.DATABASE_URL, 5432))) {
    say(`demo: cannot reach PostgreSQL at ${new URL(env.DATABASE_URL).host} (DEMO_DATABASE_URL).`);
    say('      Start it: "docker compose up -d postgres redis", or "pg_ctlcluster 15 main start".');
    process.exit(1);
  }
  if (!(await reachable(env.REDIS_URL, 6379))) {
    say(`demo: cannot reach Redis at ${new URL(env.REDIS_URL).host} (REDIS_URL).`);
    say('      Start it: "docker compose up -d postgres redis", or "redis-server --daemonize yes".');
    process.exit(1);
  }
  say('demo: building…');
  run('npm', ['run', '-s', 'build'], 'build');
  say(`demo: migrating ${new URL(env.DATABASE_URL).pathname.slice(1)}…`);
  run(process.execPath, ['dist/apps/cli/src/main.js', 'migrate'], 'migration');

  process.on('SIGINT', () => shutdown(0));
  process.on('SIGTERM', () => shutdown(0));
  start('mailstore-sim', 'dist/apps/mailstore-sim/src/main.js');
  await waitForHttp(`http://127.0.0.1:${env.SIM_PORT}/_sim/counters`, 'the mailstore simulator');
  start('worker', 'dist/apps/worker/src/main.js');
  start('api', 'dist/apps/api/src/main.js');
  await waitForHttp(`http://127.0.0.1:${env.PORT}/api/v1/health/live`, 'the API');

  const story = join(root, 'dist/apps/cli/src/demo/main.js');
  if (existsSync(story)) {
    const r = spawnSync(process.execPath, [story], { cwd: root, stdio: 'inherit', env });
    if (r.status !== 0) return shutdown(1);
  } else {
    say('demo: the reopening story is not built yet (it lands with issue 7); the stack is up:');
  }
  say(`  API        http://127.0.0.1:${env.PORT}/api/v1/health/ready`);
  say(`  simulator  ${env.MAILSTORE_URL}  (admin: http://127.0.0.1:${env.SIM_PORT}/_sim/counters)`);
  if (!keep) return shutdown(0);
  say('Press Ctrl-C to stop everything.');
}

main().catch((err) => {
  say(`demo: ${err.stack ?? err}`);
  shutdown(1);
});
