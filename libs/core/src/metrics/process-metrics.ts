import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';

/**
 * The process's one Prometheus registry (prom-client), in the API and in the worker alike: CoreModule provides it under
 * this token, so any provider of either process registers a metric of its own with
 * `new Counter({ name, help, registers: [registry] })` after `@Inject(METRICS_REGISTRY) registry: Registry`, and it
 * appears in that process's /metrics (the API's GET /api/v1/metrics, the worker's health listener's GET /metrics).
 *
 * The rule every metric keeps (docs/metrics.md): a process exports only what it observed itself. Counters and
 * histograms count this process's own events (so `sum()` across replicas is the truth, and a restart starts from 0
 * instead of replaying history); a gauge of shared state (PostgreSQL's counters, Redis's pace) is read at the scrape
 * and is the same on every replica (aggregate it with `max()`, never `sum()`). One unit per family, in its name.
 */
export const METRICS_REGISTRY = Symbol('METRICS_REGISTRY');

type MetricsProcess = 'api' | 'worker';

/**
 * A registry with `reopen_build_info` in it. Node's process metrics (prefix `reopen_<process>_`) start with
 * `startProcessMetrics`, at the first scrape: their event-loop monitor is a timer no test that never scrapes should keep.
 */
export function createProcessRegistry(process: MetricsProcess): Registry {
  const registry = new Registry();
  new Gauge({
    name: 'reopen_build_info',
    help: 'The running build: process (api, worker), version (package.json), commit (BUILD_COMMIT, or git; unknown without), Node version; always 1',
    labelNames: ['process', 'version', 'commit', 'node'],
    registers: [registry],
  }).set({ process, ...buildInfo(), node: globalThis.process.version }, 1);
  return registry;
}

const started = new WeakSet<Registry>();

/** Node's own metrics (memory, CPU, event loop, GC) in `registry`, once. */
export function startProcessMetrics(registry: Registry, process: MetricsProcess): void {
  if (started.has(registry)) return;
  collectDefaultMetrics({ register: registry, prefix: `reopen_${process}_` });
  started.add(registry);
}

let cached: { version: string; commit: string } | undefined;

/** package.json's version and the commit: BUILD_COMMIT (the image's build argument), else git's HEAD, else unknown. */
export function buildInfo(): { version: string; commit: string } {
  if (cached) return cached;
  let dir = __dirname;
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  let version = 'unknown';
  try {
    version = (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version?: string }).version ?? version;
  } catch {
    // no package.json above: unknown
  }
  // A build label, not a setting: nothing validates or depends on it (the Dockerfile passes it as an ARG).
  let commit = globalThis.process.env.BUILD_COMMIT?.trim() ?? '';
  if (!/^[0-9a-f]{7,40}$/.test(commit)) commit = gitHead(dir);
  cached = { version, commit };
  return cached;
}

/** The checkout's HEAD (development, CI); unknown where there is no git (the image). */
function gitHead(dir: string): string {
  if (!existsSync(join(dir, '.git'))) return 'unknown';
  try {
    const out = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], {
      cwd: dir,
      timeout: 2000,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const head = out.toString().trim();
    return /^[0-9a-f]{7,40}$/.test(head) ? head : 'unknown';
  } catch {
    return 'unknown';
  }
}
