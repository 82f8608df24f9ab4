#!/usr/bin/env node
import { homedir } from 'node:os';
import { EXIT } from './exit-codes';
import { runReopen } from './run';

// `reopen`, the ops CLI over the HTTP API (docs/cli.md). No database, no Nest: it starts fast and runs anywhere Node does.
runReopen(process.argv.slice(2), {
  env: process.env,
  home: homedir(),
  stdout: process.stdout,
  stderr: process.stderr,
}).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    // A bug, not an answer of the API: its stack, and the exit code of an unknown failure.
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = EXIT.internal;
  },
);
