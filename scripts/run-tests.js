#!/usr/bin/env node
// The README's test command (`npm test`): builds (e2e tests start the built apps), runs every Jest
// project against the real PostgreSQL and Redis, and ends with one line "N passed, N failed, N skipped"
// totalled over all suites, which CI prints as its last line.
'use strict';
const { spawnSync } = require('node:child_process');
const { mkdtempSync, readFileSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');

const root = join(__dirname, '..');
const args = process.argv.slice(2);

const build = spawnSync('npm', ['run', '-s', 'build'], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) {
  console.log('0 passed, 1 failed (the build failed)');
  process.exit(1);
}

const dir = mkdtempSync(join(tmpdir(), 'reopen-jest-'));
const out = join(dir, 'results.json');
const jest = spawnSync(process.execPath, [require.resolve('jest/bin/jest'), '--json', `--outputFile=${out}`, ...args], {
  cwd: root,
  stdio: 'inherit',
  env: process.env,
});
let summary;
try {
  const r = JSON.parse(readFileSync(out, 'utf8'));
  const failedSuites =
    r.numFailedTestSuites - r.testResults.filter((s) => s.assertionResults.some((a) => a.status === 'failed')).length;
  // A suite that fails to load has no failed test of its own: count it as one failure so it cannot hide.
  summary = {
    passed: r.numPassedTests,
    failed: r.numFailedTests + Math.max(0, failedSuites),
    skipped: r.numPendingTests + r.numTodoTests,
  };
} catch {
  summary = { passed: 0, failed: 1, skipped: 0 };
}
rmSync(dir, { recursive: true, force: true });
const code = jest.status === 0 && summary.failed === 0 ? 0 : 1;
if (code !== 0 && summary.failed === 0) summary.failed = 1; // Jest failed without a failing test (e.g. setup)
console.log(`${summary.passed} passed, ${summary.failed} failed, ${summary.skipped} skipped`);
process.exit(code);
