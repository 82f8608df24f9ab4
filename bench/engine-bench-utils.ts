/**
 * Shared pieces of the engine benchmarks (bench:wave, bench:throttle, bench:halt, bench:support): fresh databases
 * with an imported population, the simulator and workers as child processes, the lifecycle commands in the
 * bench process (as the API would call them), the simulator's call log, process CPU and RSS sampling, and a
 * cleanup stack that runs on success, failure and Ctrl-C (databases dropped, Redis keys deleted, children
 * stopped).
 */
import 'reflect-metadata';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import Redis from 'ioredis';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { loadConfig } from '@app/config';
import { AccountImportService, buildCoreServices, OperationService, WaveCommandsService } from '@app/core';
import { createDataSource, quoteIdent } from '@app/db';
import { createRedis, QueueProducer } from '@app/queue';
import { countersDiff, countersFromTruth, pollUntil, populationCsv, readCounters } from '@app/testing';
import {
  BENCH_SERVER_URL,
  benchDatabaseUrl,
  benchRuntimeUrl,
  conditions,
  dropDatabase,
  log,
  migrateBench,
} from './bench-utils';

export const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const POPULATION_SEED = 42;
const DIST = join(__dirname, '..');

/** Epoch milliseconds, fractional: the same clock as the simulator's call log (startedAt). */
export function epochMs(): number {
  return performance.timeOrigin + performance.now();
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function round(n: number, digits = 0): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** `--name=value` arguments and BENCH_NAME environment variables (arguments win). */
export function numberOption(name: string, fallback: number): number {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  const raw = arg ? arg.slice(name.length + 3) : process.env[`BENCH_${name.toUpperCase().replace(/-/g, '_')}`];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, got ${raw}`);
  return n;
}

// ---------------------------------------------------------------------------------------------------------------
// Cleanup

type Task = { name: string; fn: () => Promise<void> | void };

/** LIFO cleanup tasks, run once, each error logged and swallowed; also run on SIGINT/SIGTERM. */
export class Cleanup {
  private readonly tasks: Task[] = [];
  private running: Promise<void> | null = null;

  constructor() {
    const onSignal = (signal: NodeJS.Signals) => {
      log(`${signal}: cleaning up…`);
      void this.run().finally(() => process.exit(130));
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }

  add(name: string, fn: () => Promise<void> | void): void {
    this.tasks.push({ name, fn });
  }

  run(): Promise<void> {
    this.running ??= (async () => {
      while (this.tasks.length) {
        const task = this.tasks.pop()!;
        try {
          await task.fn();
        } catch (err) {
          log(`cleanup "${task.name}" failed: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
    })();
    return this.running;
  }
}

/** Runs a bench body with a cleanup stack; the last line printed on stdout is the result's JSON. */
export function runBench(name: string, body: (cleanup: Cleanup) => Promise<Record<string, unknown>>): void {
  const cleanup = new Cleanup();
  (async () => {
    try {
      const result = await body(cleanup);
      await cleanup.run();
      process.stdout.write(`${JSON.stringify({ bench: name, ...result, ...(await machine()) })}\n`);
    } catch (err) {
      process.stderr.write(
        `bench:${name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
      await cleanup.run();
      process.exitCode = 1;
    }
  })().catch(() => {
    process.exitCode = 1;
  });
}

/** Machine and versions a figure depends on. */
async function machine(): Promise<Record<string, string | number>> {
  const base = await conditions();
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  let redisVersion: string;
  try {
    await redis.connect();
    redisVersion = /redis_version:(\S+)/.exec(await redis.info('server'))?.[1] ?? '?';
  } finally {
    redis.disconnect();
  }
  const memGiB = round(Number(/MemTotal:\s+(\d+)/.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? 0) / 2 ** 20, 1);
  return { ...base, redis: redisVersion, memGiB, date: new Date().toISOString().slice(0, 10) };
}

// ---------------------------------------------------------------------------------------------------------------
// Databases and population

/** A fresh, migrated database holding `count` synthetic accounts (user1…userN, seed 42), analyzed. Not timed. */
export async function populatedDatabase(cleanup: Cleanup, label: string, count: number): Promise<string> {
  const url = benchDatabaseUrl(label);
  cleanup.add(`drop ${url}`, () => dropDatabase(url));
  await migrateBench(url);
  const started = Date.now();
  const ds = createDataSource({ url, poolSize: 1, applicationName: `bench-${label}-import` });
  await ds.initialize();
  try {
    const report = await new AccountImportService(ds).importCsv(
      Readable.from(populationCsv({ count, seed: POPULATION_SEED })),
      { actor: 'bench' },
    );
    if (report.status !== 'imported' || report.inserted !== count) {
      throw new Error(`population import failed: ${JSON.stringify(report).slice(0, 500)}`);
    }
    // The import happened long before a wave in real life: autovacuum has analyzed the table by then.
    await ds.query('VACUUM ANALYZE accounts');
  } finally {
    await ds.destroy();
  }
  log(`imported ${count} accounts into ${new URL(url).pathname.slice(1)} in ${Date.now() - started} ms (not timed)`);
  return url;
}

/** A copy of a database (CREATE DATABASE … TEMPLATE; nobody may be connected to the source). */
export async function cloneDatabase(cleanup: Cleanup, source: string, label: string): Promise<string> {
  const url = benchDatabaseUrl(label);
  cleanup.add(`drop ${url}`, () => dropDatabase(url));
  const admin = new Client({ connectionString: BENCH_SERVER_URL });
  await admin.connect();
  try {
    const src = new URL(source).pathname.slice(1);
    const dst = new URL(url).pathname.slice(1);
    await admin.query(`CREATE DATABASE ${quoteIdent(dst)} TEMPLATE ${quoteIdent(src)}`);
  } finally {
    await admin.end();
  }
  return url;
}

// ---------------------------------------------------------------------------------------------------------------
// Redis

/** A unique REDIS_PREFIX whose keys are deleted at cleanup. */
export function redisPrefix(cleanup: Cleanup, label: string): string {
  const prefix = `reopen-bench-${label}-${randomBytes(4).toString('hex')}`;
  cleanup.add(`redis keys ${prefix}:*`, async () => {
    const client = new Redis(REDIS_URL, { maxRetriesPerRequest: 3 });
    try {
      let cursor = '0';
      let deleted = 0;
      do {
        const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
        if (keys.length) deleted += await client.del(...keys);
        cursor = next;
      } while (cursor !== '0');
      log(`deleted ${deleted} Redis keys under ${prefix}:`);
    } finally {
      client.disconnect();
    }
  });
  return prefix;
}

// ---------------------------------------------------------------------------------------------------------------
// Child processes

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

/** The worker's node flags as deployed: those of `npm run start:worker` (docker-compose.yml runs the same). */
const WORKER_NODE_FLAGS = (
  JSON.parse(readFileSync(join(DIST, '..', 'package.json'), 'utf8')) as { scripts: Record<string, string> }
).scripts['start:worker']
  .split(' ')
  .filter((arg) => arg.startsWith('--'));

/**
 * `node dist/apps/worker/src/main.js`. BENCH_WORKER_CPU_PROF=<dir> adds `--cpu-prof` (profile written on exit).
 * VmHWM is sampled every 200 ms so the peak is known even if the process dies.
 */
export async function startWorkerChild(cleanup: Cleanup, label: string, w: WorkerEnv): Promise<WorkerChild> {
  const profDir = process.env.BENCH_WORKER_CPU_PROF;
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

function readStatusKb(pid: number, field: string): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// CPU accounting (who used the two cores)

export const TICK_MS = 10; // USER_HZ = 100 on Linux

export function cpuTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]); // utime + stime
  } catch {
    return 0;
  }
}

function postgresPids(): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/comm`, 'utf8').trim() === 'postgres') pids.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

function machineBusyTicks(): { busy: number; total: number } {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const total = cpu.reduce((a, b) => a + b, 0);
  const idle = cpu[3] + (cpu[4] ?? 0);
  return { busy: total - idle, total };
}

async function backendPids(database: string): Promise<number[]> {
  const admin = new Client({ connectionString: BENCH_SERVER_URL, application_name: 'bench-cpu' });
  await admin.connect();
  try {
    const r = await admin.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`,
      [database],
    );
    return r.rows.map((x) => x.pid);
  } finally {
    await admin.end();
  }
}

/**
 * Cores used between start() and stop(): the named pids; `postgresOwn`, the backends connected to the bench's
 * database (backends that start meanwhile count from zero, ones that exit meanwhile are lost: a lower bound);
 * `postgresAll`, every postgres process (other databases and background writers included); `machineBusy`, the
 * whole machine (of 2 cores), and `others` what is left: processes that are not part of the bench (e.g. other
 * people's test runs on a shared machine).
 */
export class CpuMeter {
  private t0 = 0;
  private named = new Map<string, { pids: number[]; ticks: number }>();
  private pg = new Map<number, number>();
  private machine0 = { busy: 0, total: 0 };
  private own0 = new Set<number>();

  constructor(
    private readonly groups: Record<string, number[]>,
    private readonly database?: string,
  ) {}

  async start(): Promise<void> {
    this.own0 = new Set(this.database ? await backendPids(this.database) : []);
    this.t0 = performance.now();
    for (const [name, pids] of Object.entries(this.groups)) {
      this.named.set(name, { pids, ticks: pids.reduce((s, p) => s + cpuTicks(p), 0) });
    }
    for (const pid of postgresPids()) this.pg.set(pid, cpuTicks(pid));
    this.machine0 = machineBusyTicks();
  }

  async stop(): Promise<Record<string, number>> {
    const seconds = (performance.now() - this.t0) / 1000;
    const m = machineBusyTicks();
    const cores = (ticks: number) => round((ticks * TICK_MS) / 1000 / seconds, 2);
    const out: Record<string, number> = {};
    let namedTotal = 0;
    for (const [name, { pids, ticks }] of this.named) {
      const used = pids.reduce((s, p) => s + cpuTicks(p), 0) - ticks;
      namedTotal += used;
      out[name] = cores(used);
    }
    const delta = (pid: number) => cpuTicks(pid) - (this.pg.get(pid) ?? 0);
    let pgTicks = 0;
    for (const pid of postgresPids()) pgTicks += delta(pid);
    if (this.database) {
      const own = new Set([...this.own0, ...(await backendPids(this.database))]);
      out.postgresOwn = cores([...own].reduce((s, pid) => s + delta(pid), 0));
    }
    out.postgresAll = cores(pgTicks);
    const busyCores = ((m.busy - this.machine0.busy) / Math.max(1, m.total - this.machine0.total)) * 2;
    out.machineBusy = round(busyCores, 2);
    out.others = round(Math.max(0, busyCores - out.postgresAll - cores(namedTotal)), 2);
    return out;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// What the database sessions of one database are doing (pg_stat_statements is not available here)

/**
 * Samples pg_stat_activity of one database every `everyMs`: per sample, each non-idle session counts once under
 * "<wait_event_type>:<wait_event> | <first words of the query>" (CPU when not waiting; for a session idle inside a
 * transaction, the statement it last ran). The result says where the sessions spend their time, e.g. waiting on
 * a row lock of the counters table, or idle in a transaction waiting for the client's next statement.
 */
export class ActivitySampler {
  private readonly counts = new Map<string, number>();
  private samples = 0;
  private timer: NodeJS.Timeout | null = null;
  private client: Client | null = null;

  constructor(
    private readonly url: string,
    private readonly everyMs = 50,
  ) {}

  async start(): Promise<void> {
    this.client = new Client({ connectionString: BENCH_SERVER_URL, application_name: 'bench-activity' });
    await this.client.connect();
    const db = new URL(this.url).pathname.slice(1);
    let busy = false;
    this.timer = setInterval(() => {
      if (busy || !this.client) return;
      busy = true;
      this.client
        .query<{ k: string }>(
          `SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU') || ' | ' ||
                  CASE WHEN state = 'idle in transaction' THEN '(idle in transaction after) ' ELSE '' END ||
                  regexp_replace(left(regexp_replace(query, '\\s+', ' ', 'g'), 60), '\\$\\d+', '$', 'g') AS k
             FROM pg_stat_activity
            WHERE datname = $1 AND pid <> pg_backend_pid() AND state <> 'idle'`,
          [db],
        )
        .then((r) => {
          this.samples++;
          for (const { k } of r.rows) this.counts.set(k, (this.counts.get(k) ?? 0) + 1);
        })
        .catch(() => undefined)
        .finally(() => {
          busy = false;
        });
    }, this.everyMs);
  }

  /** Top entries: average number of sessions in that state (sessions × share of time). */
  async stop(top = 15): Promise<Record<string, number>> {
    if (this.timer) clearInterval(this.timer);
    await this.client?.end();
    this.client = null;
    const n = Math.max(1, this.samples);
    return Object.fromEntries(
      [...this.counts.entries()]
        .sort((a, b) => b[1] - a[1])
        .slice(0, top)
        .map(([k, v]) => [k, round(v / n, 2)]),
    );
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The service, as the API process would drive it

export interface Services {
  dataSource: DataSource;
  producer: QueueProducer;
  commands: WaveCommandsService;
  operations: OperationService;
}

/** The usual engine setup: a Redis prefix, one worker process on it and the bench's own services. */
export async function workerAndServices(
  cleanup: Cleanup,
  label: string,
  url: string,
  sim: Pick<SimChild, 'baseUrl'>,
  concurrency: number,
  env?: Record<string, string>,
): Promise<Services & { prefix: string; worker: WorkerChild }> {
  const prefix = redisPrefix(cleanup, label);
  const worker = await startWorkerChild(cleanup, 'worker', {
    databaseUrl: url,
    redisPrefix: prefix,
    mailstoreUrl: sim.baseUrl,
    concurrency,
    env,
  });
  return { prefix, worker, ...(await services(cleanup, url, prefix, label)) };
}

export async function services(cleanup: Cleanup, url: string, prefix: string, label: string): Promise<Services> {
  const dataSource = createDataSource({ url, poolSize: 6, applicationName: `bench-${label}` });
  await dataSource.initialize();
  const redis = createRedis(REDIS_URL, `bench-${label}`);
  const producer = new QueueProducer(redis, prefix);
  cleanup.add('close bench services', async () => {
    await producer.close();
    redis.disconnect();
    await dataSource.destroy();
  });
  // The services as the API and the worker build them (libs/core's core-graph), with the worker's default settings.
  const { commands, operations } = buildCoreServices(dataSource, producer, loadConfig({ REDIS_PREFIX: prefix }));
  return { dataSource, producer, commands, operations };
}

export interface WaveRow {
  state: string;
  status_reason: string | null;
  started_at: Date | null;
  completed_at: Date | null;
  member_count: number | null;
}

export async function waveRow(ds: DataSource, id: string): Promise<WaveRow> {
  const [w] = await ds.query<WaveRow[]>(
    `SELECT state, status_reason, started_at, completed_at, member_count FROM waves WHERE id = $1`,
    [id],
  );
  return w;
}

/**
 * Forward counters only (rollback counters are not concerned here), compared with the truth recomputed from
 * wave_members: the tests' definition (libs/testing/src/wave-counters.ts), restricted to the forward names.
 */
export async function checkCounters(
  ds: DataSource,
  waveId: string,
): Promise<{ exact: boolean; counters: Record<string, number>; truth: Record<string, number> }> {
  const forward = (c: Record<string, number>) =>
    Object.fromEntries(Object.entries(c).filter(([k]) => !k.startsWith('rollback')));
  const counters = forward(await readCounters(ds, waveId));
  const truth = forward(await countersFromTruth(ds, waveId));
  return { exact: Object.keys(countersDiff(counters, truth)).length === 0, counters, truth };
}

/** Polls the wave's row until `done` says so (pollUntil), and returns that row. */
export function waitForWave(
  ds: DataSource,
  id: string,
  done: (w: WaveRow) => boolean,
  timeoutMs: number,
  pollMs = 50,
): Promise<WaveRow> {
  return pollUntil(
    async () => {
      const w = await waveRow(ds, id);
      return done(w) && w;
    },
    { timeoutMs, intervalMs: pollMs, description: `wave ${id} done` },
  );
}

/**
 * Per-batch timing from the service's own records (no engine change needed): wave_batches.created_at is the claim
 * transaction's start; lease_until − lease is when the send permit ran (after the pace);
 * mailstore_calls.started_at the call start, + latency_ms its end; wave_batches.completed_at the settle
 * transaction's start. Medians and p95s in ms.
 */
export async function batchPhases(ds: DataSource, waveId: string, leaseMs = 15_000): Promise<Record<string, number>> {
  const [r] = await ds.query<Record<string, string | null>[]>(
    `WITH p AS (
       SELECT extract(epoch FROM (b.lease_until - make_interval(secs => $2 / 1000.0)) - b.created_at) * 1000 AS claim_to_attempt,
              extract(epoch FROM c.started_at - (b.lease_until - make_interval(secs => $2 / 1000.0))) * 1000 AS attempt_to_call,
              c.latency_ms AS call_ms,
              extract(epoch FROM b.completed_at - c.started_at) * 1000 - c.latency_ms AS answer_to_settle
         FROM wave_batches b JOIN mailstore_calls c ON c.batch_id = b.id AND c.wave_id = b.wave_id
        WHERE b.wave_id = $1 AND b.kind = 'forward' AND b.state = 'done' AND c.outcome = 'ok' AND b.attempts = 1)
     SELECT count(*) AS batches,
            percentile_cont(0.5) WITHIN GROUP (ORDER BY claim_to_attempt) AS claim_to_attempt_p50,
            percentile_cont(0.95) WITHIN GROUP (ORDER BY claim_to_attempt) AS claim_to_attempt_p95,
            percentile_cont(0.5) WITHIN GROUP (ORDER BY attempt_to_call) AS attempt_to_call_p50,
            percentile_cont(0.95) WITHIN GROUP (ORDER BY attempt_to_call) AS attempt_to_call_p95,
            percentile_cont(0.5) WITHIN GROUP (ORDER BY call_ms) AS call_p50,
            percentile_cont(0.95) WITHIN GROUP (ORDER BY call_ms) AS call_p95,
            percentile_cont(0.5) WITHIN GROUP (ORDER BY answer_to_settle) AS answer_to_settle_p50,
            percentile_cont(0.95) WITHIN GROUP (ORDER BY answer_to_settle) AS answer_to_settle_p95
       FROM p`,
    [waveId, leaseMs],
  );
  return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, round(Number(v ?? 0), 1)]));
}

// ---------------------------------------------------------------------------------------------------------------
// The simulator's admin API

export interface SimCall {
  seq: number;
  startedAt: number;
  endedAt: number | null;
  endpoint: string;
  status: number;
  outcome: string;
  accounts: string[];
  /** Accounts whose state this call actually changed. */
  applied: string[];
  requestId: string | null;
}

export async function simLastSeq(adminUrl: string): Promise<number> {
  const res = await fetch(`${adminUrl}/calls?since=${Number.MAX_SAFE_INTEGER}&limit=1`);
  return ((await res.json()) as { lastSeq: number }).lastSeq;
}

/** Every logged call after `since`, paged (2,000 a page). */
export async function simCalls(adminUrl: string, since = 0): Promise<SimCall[]> {
  const out: SimCall[] = [];
  let cursor = since;
  for (;;) {
    const res = await fetch(`${adminUrl}/calls?since=${cursor}&limit=2000`);
    if (!res.ok) throw new Error(`GET /_sim/calls: HTTP ${res.status}`);
    const { calls } = (await res.json()) as { calls: SimCall[] };
    if (!calls.length) return out;
    out.push(...calls);
    cursor = calls[calls.length - 1].seq;
  }
}

/**
 * The simulator's batch calls of the last second, followed from a sequence number: how a bench sees that a wave runs
 * at full speed before it measures a pause or a halt.
 */
export class RecentBatchCalls {
  /** Batch calls started within the last second (as of the last poll), oldest first. */
  readonly calls: SimCall[] = [];

  private constructor(
    private readonly adminUrl: string,
    /** The sequence number of the last batch call read: later calls are the ones after it. */
    public seq: number,
  ) {}

  static async follow(adminUrl: string): Promise<RecentBatchCalls> {
    return new RecentBatchCalls(adminUrl, await simLastSeq(adminUrl));
  }

  /** Reads the calls since the last poll and forgets those older than a second; returns their accounts (per s). */
  async poll(): Promise<number> {
    const calls = (await simCalls(this.adminUrl, this.seq)).filter((c) => c.endpoint === 'batch');
    if (calls.length) this.seq = calls[calls.length - 1].seq;
    this.calls.push(...calls);
    const since = epochMs() - 1000;
    while (this.calls.length && this.calls[0].startedAt < since) this.calls.shift();
    return this.calls.reduce((a, c) => a + c.accounts.length, 0);
  }
}

export async function simAccount(
  adminUrl: string,
  login: string,
): Promise<{ protocols: { imap: boolean; pop3: boolean }; version: number; updatedAt: string }> {
  const res = await fetch(`${adminUrl}/accounts/${encodeURIComponent(login)}`);
  if (!res.ok) throw new Error(`GET /_sim/accounts/${login}: HTTP ${res.status}`);
  return (await res.json()) as { protocols: { imap: boolean; pop3: boolean }; version: number; updatedAt: string };
}

export async function simReset(adminUrl: string, accounts: number): Promise<void> {
  const res = await fetch(`${adminUrl}/reset`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ accounts }),
  });
  if (!res.ok) throw new Error(`POST /_sim/reset: HTTP ${res.status}`);
}

export function percentile(sorted: readonly number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}
