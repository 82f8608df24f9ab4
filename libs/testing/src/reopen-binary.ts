import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from './worker-process';

/** The built `reopen` CLI (npm run build). */
export const REOPEN_MAIN = join(repoRoot(), 'dist/apps/cli/src/reopen/main.js');

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliRunOptions {
  /** The whole environment of the child (nothing is inherited: no stray REOPEN_* of the shell running the tests). */
  env: Record<string, string>;
  /** Called with everything printed so far, at each chunk (`watch`: act when a line appears). */
  onStdout?: (sofar: string) => void;
  /** The reader leaves at once (`reopen … | head -0`). */
  closeStdout?: boolean;
  /** Run this command line instead (it runs the binary itself), e.g. under script(1). */
  wrap?: string[];
  /** Killed (SIGKILL) past this: a hung command fails its test instead of Jest's. */
  timeoutMs?: number;
}

/**
 * `reopen …` as an operator runs it: the built binary in a child process. Never spawnSync: the worker and the API a
 * test drives may run in the test's own process and must keep working meanwhile.
 */
export function runReopen(args: string[], o: CliRunOptions): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const [file, ...argv] = o.wrap ?? [process.execPath, REOPEN_MAIN, ...args];
    const child = spawn(file, argv, { env: o.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    if (o.closeStdout) child.stdout.destroy();
    else {
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
        o.onStdout?.(stdout);
      });
    }
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
