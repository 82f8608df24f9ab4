#!/usr/bin/env node
// `npm run bench`: every benchmark in turn (each is `npm run bench:<name>`), collecting each one's last-line
// JSON into bench/out/latest.json. Bench names come from package.json, so a new bench is picked up by itself.
'use strict';
const { spawnSync } = require('node:child_process');
const { mkdirSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const scripts = require(join(root, 'package.json')).scripts;
const only = process.argv.slice(2);
const names = Object.keys(scripts)
  .filter((s) => s.startsWith('bench:'))
  .map((s) => s.slice('bench:'.length))
  .filter((n) => only.length === 0 || only.includes(n));
const results = {};
let failed = 0;
for (const name of names) {
  process.stdout.write(`\n== bench:${name}\n`);
  const r = spawnSync('npm', ['run', '-s', `bench:${name}`], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const last = (r.stdout || '').trim().split('\n').pop() || '';
  process.stdout.write(`${last}\n`);
  try {
    results[name] = JSON.parse(last);
  } catch {
    results[name] = { error: `exit ${r.status}, no JSON last line` };
  }
  if (r.status !== 0) failed++;
}
mkdirSync(join(root, 'bench/out'), { recursive: true });
writeFileSync(
  join(root, 'bench/out/latest.json'),
  `${JSON.stringify({ at: new Date().toISOString(), results }, null, 2)}\n`,
);
process.stdout.write(`\n${names.length - failed} benchmarks ran, ${failed} failed; results in bench/out/latest.json\n`);
process.exitCode = failed ? 1 : 0;
