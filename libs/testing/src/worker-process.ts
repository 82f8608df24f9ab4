import { ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pollUntil } from './poll-until';

/** The repository's root: the nearest folder above this file with a package.json (from source or from dist). */
export function repoRoot(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

/** The built worker (npm run build): tests that freeze or kill workers need real processes. */
export function builtWorkerPath(): string {
  return join(repoRoot(), 'dist/apps/worker/src/main.js');
}

/** Lines of output kept per process, for the failure message of a test that lost a worker. */
const TAIL_LINES = 40;

/**
 * A worker child process (the built `apps/worker`), for tests that stop one the way a long GC pause or a stalled
 * VM would (SIGSTOP/SIGCONT) or kill it. Its output is drained continuously (a full pipe would block the child) and
 * the last lines are kept for diagnostics.
 */
export class WorkerProcess {
  private tail: string[] = [];
  private frozenSince: number | null = null;

  private constructor(readonly child: ChildProcess) {
    const keep = (d: Buffer) => {
      for (const line of d.toString().split('\n')) if (line.trim()) this.tail.push(line);
      if (this.tail.length > TAIL_LINES) this.tail.splice(0, this.tail.length - TAIL_LINES);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
  }

  /** Spawns a worker with `env` (typically the harness's `env` plus overrides); resolves once it logged ready. */
  static async start(
    env: Record<string, string>,
    options: { script?: string; readyTimeoutMs?: number } = {},
  ): Promise<WorkerProcess> {
    const script = options.script ?? builtWorkerPath();
    if (!existsSync(script)) throw new Error(`${script} is missing: run npm run build first (npm test does)`);
    const child = spawn(process.execPath, [script], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const w = new WorkerProcess(child);
    try {
      await pollUntil(() => w.tail.some((l) => l.includes('worker ready')) || !w.alive, {
        timeoutMs: options.readyTimeoutMs ?? 20_000,
        description: 'worker ready',
      });
    } catch (err) {
      await w.kill();
      throw err;
    }
    if (!w.alive) throw new Error(`worker exited at start:\n${w.output()}`);
    return w;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Not exited (a frozen process is alive). */
  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  get frozen(): boolean {
    return this.frozenSince !== null;
  }

  /** How long it has been frozen (0 when it runs). */
  frozenForMs(): number {
    return this.frozenSince === null ? 0 : Date.now() - this.frozenSince;
  }

  /** SIGSTOP: the process stops wherever it is, sockets and transactions open. */
  freeze(): void {
    if (!this.alive || this.frozen) return;
    this.child.kill('SIGSTOP');
    this.frozenSince = Date.now();
  }

  /** SIGCONT: it goes on from where it stopped. */
  thaw(): void {
    if (!this.alive) return;
    this.child.kill('SIGCONT');
    this.frozenSince = null;
  }

  /** The last lines it wrote (stdout and stderr). */
  output(): string {
    return this.tail.join('\n');
  }

  /** SIGTERM, the graceful shutdown: resolves with its exit code (null when a signal ended it). */
  async terminate(): Promise<number | null> {
    if (!this.alive) return this.child.exitCode;
    const exited = new Promise<number | null>((resolve) => this.child.once('exit', (code) => resolve(code)));
    this.child.kill('SIGTERM');
    return exited;
  }

  /** Ends it for good (woken first, so a frozen one dies too) and waits for its exit. */
  async kill(): Promise<void> {
    if (!this.alive) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGCONT');
    this.child.kill('SIGKILL');
    this.frozenSince = null;
    await exited;
  }
}
