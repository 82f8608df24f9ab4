import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { repoRoot } from './worker-process';

// From source (jest) or from dist (a benchmark): the folder of package.json.
const ROOT = repoRoot();
const API_MAIN = join(ROOT, 'dist/apps/api/src/main.js');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(path));
    else if (entry.name.endsWith('.ts') && !/\.(int-|e2e-|contract-)?spec\.ts$/.test(entry.name)) {
      newest = Math.max(newest, statSync(path).mtimeMs);
    }
  }
  return newest;
}

/**
 * The e2e tests (and the benchmarks built on them) run the built API, as `npm test` does after its build. When the
 * sources are newer than the build (a direct `npx jest`), build once: a lock directory keeps parallel test files from building at the same time.
 */
export function ensureFreshBuild(): void {
  const lock = join(ROOT, 'dist', '.e2e-build.lock');
  mkdirSync(join(ROOT, 'dist'), { recursive: true }); // a fresh clone has none: the lock's mkdir would fail forever
  const deadline = Date.now() + 180_000;
  while (!isFresh()) {
    try {
      mkdirSync(lock, { recursive: false });
    } catch {
      if (Date.now() > deadline) throw new Error(`waited 180 s for another build (remove ${lock} if stale)`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 500); // another test file is building
      continue;
    }
    try {
      const build = spawnSync('npm', ['run', '-s', 'build'], { cwd: ROOT, encoding: 'utf8' });
      if (build.status !== 0) throw new Error(`npm run build failed:\n${build.stdout}${build.stderr}`);
    } finally {
      rmSync(lock, { recursive: true, force: true });
    }
    return;
  }
}

function isFresh(): boolean {
  let built: number;
  try {
    built = statSync(join(ROOT, 'dist/.tsbuildinfo')).mtimeMs;
  } catch {
    return false;
  }
  return Math.max(...['apps', 'libs', 'migrations'].map((d) => newestMtime(join(ROOT, d)))) <= built;
}

export interface ApiProcess {
  origin: string;
  child: ChildProcess;
  /** Log lines the process wrote (JSON), for assertions on request logging. */
  lines: string[];
  /** What it wrote to stderr, from the start (a client printing stack traces there is a defect too). */
  stderr: string[];
  stop(): Promise<void>;
}

/** Starts `node dist/apps/api/src/main.js` on a free port and waits for its "api listening" line. */
export async function startApiProcess(env: Record<string, string>): Promise<ApiProcess> {
  const child = spawn(process.execPath, [API_MAIN], {
    env: { PATH: process.env.PATH ?? '', ...env, PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const stderr: string[] = [];
  child.stderr.on('data', (d: Buffer) => stderr.push(d.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`api did not start within 20 s: ${stderr.join('')}`));
    }, 20_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`api exited with ${code}: ${stderr.join('')}`));
    });
    createInterface({ input: child.stdout }).on('line', (line) => {
      lines.push(line);
      if (lines.length > 5000) lines.splice(0, 1000);
      if (line.includes('"api listening"')) {
        clearTimeout(timer);
        resolve((JSON.parse(line) as { port: number }).port);
      }
    });
  });
  return {
    origin: `http://127.0.0.1:${port}`,
    child,
    lines,
    stderr,
    stop: async () => {
      // Exited on its own, or killed by a signal (SIGKILL in a test): nothing to wait for.
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
