/** The simulator and the worker as child processes of a bench, stopped by its cleanup (engine-bench-utils.ts). */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { benchRuntimeUrl, log } from './bench-utils';
import { Cleanup, readStatusKb, REDIS_URL, round } from './engine-bench-utils';

const DIST = join(__dirname, '..');

/** The worker's node flags as deployed: those of `npm run start:worker` (docker-compose.yml runs the same). */
export const WORKER_NODE_FLAGS = (
  JSON.parse(readFileSync(join(DIST, '..', 'package.json'), 'utf8')) as { scripts: Record<string, string> }
).scripts['start:worker']
  .split(' ')
  .filter((arg) => arg.startsWith('--'));

interface Child {
  pid: number;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** Forwards a child's output lines (stdout is drained so the child never blocks on a full pipe). */
function pipeLines(child: ChildProcess, label: string, onLine: (line: string) => void): void {
  if (child.stdout) createInterface({ input: child.stdout }).on('line', onLine);
  if (child.stderr) createInterface({ input: child.stderr }).on('line', (l) => log(`[${label}!] ${l}`));
}

function stopper(child: ChildProcess, label: string, graceMs: number): () => Promise<void> {
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  return async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => {
      log(`${label} did not stop within ${graceMs} ms: SIGKILL`);
      child.kill('SIGKILL');
    }, graceMs);
    await exited;
    clearTimeout(timer);
  };
}

/** pino's numeric levels (the API and the worker: 40 is warn) or the simulator's names. */
function isWarningOrWorse(level: unknown): boolean {
  return typeof level === 'number' ? level >= 40 : level === 'warn' || level === 'error' || level === 'fatal';
}

async function waitForLine(
  child: ChildProcess,
  label: string,
  match: (entry: Record<string, unknown>) => boolean,
  timeoutMs: number,
): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${label} not ready within ${timeoutMs} ms`)), timeoutMs);
    const onExit = (code: number | null) => {
      clearTimeout(timer);
      reject(new Error(`${label} exited (code ${code}) before it was ready`));
    };
    child.once('exit', onExit);
    pipeLines(child, label, (line) => {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        log(`[${label}] ${line}`);
        return;
      }
      if (isWarningOrWorse(entry.level)) log(`[${label}] ${line}`);
      if (match(entry)) {
        clearTimeout(timer);
        child.off('exit', onExit);
        resolve(entry);
      }
    });
  });
}

export interface SimChild extends Child {
  baseUrl: string;
  adminUrl: string;
}

/** `node dist/apps/mailstore-sim/src/main.js` on a free port, `SIM_ACCOUNTS` accounts, rate limits off. */
export async function startSimChild(cleanup: Cleanup, accounts: number, env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [join(DIST, 'apps', 'mailstore-sim', 'src', 'main.js')], {
    env: { ...process.env, SIM_PORT: '0', SIM_ACCOUNTS: String(accounts), SIM_RATE_LIMITS: 'none', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stop = stopper(child, 'simulator', 10_000);
  cleanup.add('stop simulator', stop);
  const ready = await waitForLine(child, 'sim', (e) => e.msg === 'mailstore-sim listening', 120_000);
  log(
    `simulator pid ${child.pid} at ${String(ready.baseUrl)} (${accounts} accounts, started in ${Number(ready.startupMs)} ms)`,
  );
  const sim: SimChild = {
    pid: child.pid!,
    process: child,
    stop,
    baseUrl: ready.baseUrl as string,
    adminUrl: ready.adminUrl as string,
  };
  return sim;
}

export interface WorkerChild extends Child {
  /** Peak resident set size so far (VmHWM), MB; read before the process exits. */
  peakRssMb(): number;
  /** Resident set size now (VmRSS), MB. */
  rssMb(): number;
}

export interface WorkerEnv {
  databaseUrl: string;
  redisPrefix: string;
  mailstoreUrl: string;
  concurrency: number;
  /** More of the worker's environment (another MAILSTORE_DRIVER and its settings). */
  env?: Record<string, string>;
}

/**
 * `node dist/apps/worker/src/main.js`. BENCH_WORKER_CPU_PROF=<dir> adds `--cpu-prof` (profile written on exit).
 * VmHWM is sampled every 200 ms so the peak is known even if the process dies.
 */
export async function startWorkerChild(cleanup: Cleanup, label: string, w: WorkerEnv): Promise<WorkerChild> {
  const profDir = process.env.BENCH_WORKER_CPU_PROF;
  // As deployed (`npm run start:worker`, docker-compose.yml): a 4 MB young generation.
  const args = [...WORKER_NODE_FLAGS, ...(profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [])];
  const child = spawn(process.execPath, [...args, join(DIST, 'apps', 'worker', 'src', 'main.js')], {
    env: {
      ...process.env,
      DATABASE_URL: benchRuntimeUrl(w.databaseUrl),
      REDIS_URL: REDIS_URL,
      REDIS_PREFIX: w.redisPrefix,
      MAILSTORE_URL: w.mailstoreUrl,
      MAILSTORE_TOKEN: 'sim-token',
      WORKER_CONCURRENCY: String(Math.max(8, w.concurrency)),
      RECONCILE_INTERVAL_MS: '5000',
      MAILSTORE_TIMEOUT_MS: '10000',
      LOG_LEVEL: 'warn',
      ...w.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pid = child.pid!;
  let peakKb = 0;
  const sample = () => {
    const kb = readStatusKb(pid, 'VmHWM');
    if (kb > peakKb) peakKb = kb;
  };
  const sampler = setInterval(sample, 200);
  const stopChild = stopper(child, label, 25_000);
  const stop = async () => {
    sample();
    clearInterval(sampler);
    await stopChild();
  };
  cleanup.add(`stop ${label}`, stop);
  await waitForLine(child, label, (e) => e.msg === 'worker ready', 60_000);
  log(`${label} pid ${pid} ready (WORKER_CONCURRENCY ${Math.max(8, w.concurrency)})`);
  return {
    pid,
    process: child,
    stop,
    peakRssMb: () => {
      sample();
      return round(peakKb / 1024, 1);
    },
    rssMb: () => round(readStatusKb(pid, 'VmRSS') / 1024, 1),
  };
}
