/**
 * The frame of the engine benchmarks (bench:wave, bench:throttle, bench:halt, bench:support…): options, a cleanup
 * stack that runs on success, failure and Ctrl-C, the one JSON result line with the machine's conditions, and what
 * the benches measure with (process CPU, RSS, what the database sessions do, percentiles). Next to it:
 * engine-bench-children.ts (the simulator and workers as child processes), engine-bench-world.ts (databases with a
 * population, Redis prefixes, the services as the API calls them), engine-bench-checks.ts (the wave's row and
 * counters, batch timings, the simulator's call log).
 */
import { readdirSync, readFileSync } from 'node:fs';
import Redis from 'ioredis';
import { Client } from 'pg';
import { BENCH_SERVER_URL, conditions, log } from './bench-utils';

export const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const POPULATION_SEED = 42;

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

/** The options of the benches that run a wave: its accounts, its pumps, how long to wait for it (arguments win). */
export interface WaveBenchOptions {
  accounts: number;
  concurrency: number;
  timeoutMs: number;
}

export function waveBenchOptions(defaults: {
  accounts: number;
  concurrency?: number;
  timeoutSeconds?: number;
}): WaveBenchOptions {
  return {
    accounts: numberOption('accounts', defaults.accounts),
    concurrency: numberOption('concurrency', defaults.concurrency ?? 6),
    timeoutMs: numberOption('timeout-seconds', defaults.timeoutSeconds ?? 900) * 1000,
  };
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

/** A /proc/<pid>/status field in kB (VmHWM, VmRSS); 0 once the process is gone. */
export function readStatusKb(pid: number, field: string): number {
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

export function percentile(sorted: readonly number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}
