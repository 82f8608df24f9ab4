// `npm ci` when node_modules is missing or older than the lock file: the first step of both README commands after the
// service preflight (a fresh clone has no node_modules). Plain JavaScript: nothing is installed yet.
'use strict';
const { spawnSync } = require('node:child_process');
const { existsSync, statSync } = require('node:fs');
const { join } = require('node:path');

const ROOT = join(__dirname, '..');

function needsInstall(root = ROOT) {
  const lock = join(root, 'package-lock.json');
  const marker = join(root, 'node_modules', '.package-lock.json');
  return !existsSync(marker) || statSync(marker).mtimeMs < statSync(lock).mtimeMs;
}

/** Runs npm ci with its output shown; returns whether it succeeded. */
function install(root = ROOT) {
  return spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' }).status === 0;
}

module.exports = { needsInstall, install };
