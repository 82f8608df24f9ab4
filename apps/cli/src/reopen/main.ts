#!/usr/bin/env node
import { homedir } from 'node:os';
import { EXIT } from './exit-codes';
import { runReopen } from './run';

// `reopen`, the ops CLI over the HTTP API (docs/cli.md). No database, no Nest: it starts fast and runs anywhere Node does.

// A reader that leaves early (`reopen waves list | head -1`) closes the pipe: the rest of the output is dropped and the
// command still runs to its end (`reopen waves pause --all | head -1` pauses every wave), never a stack trace. `watch`
// stops once nobody reads it.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE' && err.code !== 'ERR_STREAM_DESTROYED') throw err;
});
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
