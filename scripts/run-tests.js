#!/usr/bin/env node
// The README's test command (`npm test`): brings PostgreSQL and Redis (scripts/services.js: the configured or default
// ones when they answer, else an embedded PostgreSQL and a redis-server of its own, one line each), installs
// dependencies when node_modules is missing or stale, builds (e2e tests start the built apps), runs every Jest project
// (arguments are passed to Jest), stops what it started, and ends with one line "N passed, N failed, N skipped"
// totalled over all suites, which CI prints as its last line.
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const { mkdtempSync, readFileSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const services = require('./services');
const { needsInstall, install } = require('./install');

const root = join(__dirname, '..');
const args = process.argv.slice(2);

function say(line) {
  process.stdout.write(`test: ${line.replace(/\n/g, '\n      ')}\n`);
}

/** Jest's JSON results → totals. A suite that fails to load has no failed test of its own: it counts as one. */
function totals(file) {
  try {
    const r = JSON.parse(readFileSync(file, 'utf8'));
    const failedSuites =
      r.numFailedTestSuites - r.testResults.filter((s) => s.assertionResults.some((a) => a.status === 'failed')).length;
    return {
      passed: r.numPassedTests,
      failed: r.numFailedTests + Math.max(0, failedSuites),
      skipped: r.numPendingTests + r.numTodoTests,
    };
  } catch {
    return { passed: 0, failed: 1, skipped: 0 };
  }
}

function finish(summary, code, note = '') {
  console.log(`${summary.passed} passed, ${summary.failed} failed, ${summary.skipped} skipped${note}`);
  process.exit(code);
}

async function main() {
  let plan;
  try {
    plan = await services.testPreflight();
  } catch (err) {
    if (!(err instanceof services.ServiceError)) throw err;
    say(err.message);
    return finish({ passed: 0, failed: 1, skipped: 0 }, 1, ' (a service is missing: see above)');
  }
  if (needsInstall()) {
    for (const line of services.describePlan(plan)) say(line);
    say('installing dependencies (npm ci)…');
    if (!install()) return finish({ passed: 0, failed: 1, skipped: 0 }, 1, ' (npm ci failed)');
  }
  let running;
  try {
    running = await services.bring(plan);
  } catch (err) {
    if (!(err instanceof services.ServiceError)) throw err;
    say(err.message);
    return finish({ passed: 0, failed: 1, skipped: 0 }, 1, ' (a service is missing: see above)');
  }
  for (const line of running.lines) say(line);
  // Ctrl-C reaches Jest too (same process group): wait for it, then stop what was started.
  const interrupted = () => undefined;
  process.on('SIGINT', interrupted);
  process.on('SIGTERM', interrupted);
  try {
    const build = spawnSync('npm', ['run', '-s', 'build'], { cwd: root, stdio: 'inherit' });
    if (build.status !== 0)
      return { summary: { passed: 0, failed: 1, skipped: 0 }, code: 1, note: ' (the build failed)' };
    const env = { ...process.env, TEST_DATABASE_URL: running.postgresUrl, TEST_REDIS_URL: running.redisUrl };
    // The tests that run a PostgreSQL cluster of their own use the embedded package's binaries (where it has a build).
    if (!env.POSTGRES_BIN_DIR)
      env.POSTGRES_BIN_DIR = await services.serverBinaries().then(
        (s) => s.binaries.bin,
        () => '',
      );
    const dir = mkdtempSync(join(tmpdir(), 'reopen-jest-'));
    const out = join(dir, 'results.json');
    const jest = spawn(process.execPath, [require.resolve('jest/bin/jest'), '--json', `--outputFile=${out}`, ...args], {
      cwd: root,
      stdio: 'inherit',
      env,
    });
    const status = await new Promise((resolve) => jest.once('exit', (code, signal) => resolve(signal ? 1 : code)));
    const summary = totals(out);
    rmSync(dir, { recursive: true, force: true });
    const code = status === 0 && summary.failed === 0 ? 0 : 1;
    if (code !== 0 && summary.failed === 0) summary.failed = 1; // Jest failed without a failing test (e.g. setup)
    return { summary, code, note: '' };
  } finally {
    running.stop();
  }
}

main()
  .then((result) => result && finish(result.summary, result.code, result.note))
  .catch((err) => {
    say(err.stack ?? String(err));
    finish({ passed: 0, failed: 1, skipped: 0 }, 1);
  });
