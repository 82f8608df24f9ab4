/**
 * What bench:progress and bench:events share: one database with N synthetic accounts (seed 42, as bench:import),
 * the simulator, a worker and the API as separate processes (the built apps), API keys, one wave over every account
 * at a given rate, and the wave's throughput over a window (members reaching an outcome per second, read from its
 * counters; CPU split between the processes over the same window).
 */
import 'reflect-metadata';
import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createReadStream, createWriteStream, existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import Redis from 'ioredis';
import { DataSource } from 'typeorm';
import { AccountImportService, ApiKeyService } from '@app/core';
import type { ApiRole } from '@app/db';
import { createDataSource } from '@app/db';
import { DEFAULT_INCIDENT_AT, populationCsv } from '@app/testing';
import { benchDatabaseUrl, benchRuntimeUrl, dropDatabase, log, migrateBench } from './bench-utils';
import { CpuMeter } from './engine-bench-utils';
import { WORKER_NODE_FLAGS } from './engine-bench-children';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
/** dist/: this file runs as dist/bench/api-wave-world.js. */
const DIST = join(__dirname, '..');
/** The wave's rate when none is asked for: no limit but the machine's. */
export const FULL_SPEED = 1_000_000;

interface Child {
  proc: ChildProcess;
  line: Record<string, unknown>;
}

/** Starts a built app and waits for the JSON line that says it is ready. */
async function startApp(
  main: string,
  env: Record<string, string>,
  ready: string,
  nodeFlags: string[] = [],
): Promise<Child> {
  const proc = spawn(process.execPath, [...nodeFlags, join(DIST, main)], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = await new Promise<Record<string, unknown>>((resolve, reject) => {
    proc.once('exit', (code) => reject(new Error(`${main} exited with ${code}`)));
    createInterface({ input: proc.stdout }).on('line', (l) => {
      if (l.includes(ready)) resolve(JSON.parse(l) as Record<string, unknown>);
    });
  });
  return { proc, line };
}

async function stop(child: Child | undefined): Promise<void> {
  if (!child || child.proc.exitCode !== null) return;
  const exited = once(child.proc, 'exit');
  child.proc.kill('SIGTERM');
  const timer = setTimeout(() => child.proc.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

async function populationFile(accounts: number): Promise<string> {
  const file = join(tmpdir(), `reopen-population-${accounts}-seed42.csv`);
  if (existsSync(file) && statSync(file).size > 0) return file;
  const out = createWriteStream(file);
  for (const chunk of populationCsv({ count: accounts, seed: 42 })) if (!out.write(chunk)) await once(out, 'drain');
  out.end();
  await once(out, 'finish');
  return file;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
export const round1 = (n: number) => Math.round(n * 10) / 10;

/** `--rate=N` (or BENCH_RATE; `max` or absent: full speed), the wave's ratePerSecond. */
export function rateOption(): number {
  const arg = process.argv.find((a) => a.startsWith('--rate='))?.slice('--rate='.length) ?? process.env.BENCH_RATE;
  if (arg === undefined || arg === '' || arg === 'max') return FULL_SPEED;
  const n = Number(arg);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--rate must be a positive integer or "max", got ${arg}`);
  return n;
}

interface WaveWindow {
  /** Members reaching an outcome per second. */
  rate: number;
  seconds: number;
  cores: Record<string, number>;
}

export interface ApiWaveWorld {
  origin: string;
  ds: DataSource;
  secrets: { ops: string; signals: string; viewers: string[] };
  pids: { api: number; worker: number; sim: number };
  /** A wave over every account (not started). */
  createWave(ratePerSecond: number): Promise<string>;
  startWave(id: string): Promise<void>;
  cancelWave(id: string): Promise<void>;
  /**
   * The wave's throughput over `seconds`, sampled every second; only samples taken while members were still pending
   * count (the tail of a wave, its last batches draining, is not its speed).
   */
  window(waveId: string, label: string, seconds: number, extraPids?: Record<string, number[]>): Promise<WaveWindow>;
  /** The API's /metrics text (ops key). */
  scrape(): Promise<string>;
  close(): Promise<void>;
}

export async function startApiWaveWorld(
  label: string,
  accounts: number,
  options: { viewerKeys?: number; signals?: boolean } = {},
): Promise<ApiWaveWorld> {
  const url = benchDatabaseUrl(label);
  const prefix = `bench-${label}-${Date.now().toString(36)}`;
  const children: Child[] = [];
  await migrateBench(url);
  const ds = createDataSource({ url, poolSize: 2, applicationName: `bench-${label}` });
  await ds.initialize();
  const close = async () => {
    for (const child of children.reverse()) await stop(child);
    await ds.destroy();
    await dropDatabase(url);
    const redis = new Redis(REDIS_URL);
    const stale = await redis.keys(`${prefix}*`);
    if (stale.length) await redis.del(...stale);
    redis.disconnect();
  };
  try {
    const file = await populationFile(accounts);
    log(`importing ${accounts} accounts (not timed)…`);
    await new AccountImportService(ds, new Date(DEFAULT_INCIDENT_AT)).importCsv(
      createReadStream(file, { highWaterMark: 1 << 20 }),
    );

    const sim = await startApp(
      'apps/mailstore-sim/src/main.js',
      { SIM_PORT: '0', SIM_ACCOUNTS: String(accounts), SIM_RATE_LIMITS: 'none' },
      'mailstore-sim listening',
    );
    children.push(sim);
    const env = {
      DATABASE_URL: benchRuntimeUrl(url),
      REDIS_URL,
      REDIS_PREFIX: prefix,
      MAILSTORE_URL: String(sim.line.baseUrl),
      LOG_LEVEL: 'warn',
    };
    const worker = await startApp('apps/worker/src/main.js', env, 'worker ready', WORKER_NODE_FLAGS);
    children.push(worker);
    // Diagnosis: BENCH_API_CPU_PROF=<dir> writes the API's CPU profile there when it exits (--cpu-prof).
    const profDir = process.env.BENCH_API_CPU_PROF;
    const apiFlags = profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [];
    const api = await startApp('apps/api/src/main.js', { ...env, PORT: '0' }, 'api listening', apiFlags);
    children.push(api);
    const origin = `http://127.0.0.1:${String(api.line.port)}`;

    const keys = new ApiKeyService(ds);
    const key = async (role: ApiRole, name: string) => (await keys.create(role, name)).secret;
    const ops = await key('ops', 'bench');
    const signals = options.signals ? await key('signals', 'dovecot') : '';
    const viewers: string[] = [];
    for (let i = 0; i < (options.viewerKeys ?? 0); i++) viewers.push(await key('viewer', `dashboard-${i}`));
    const post = async (path: string, body?: unknown) => {
      const res = await fetch(`${origin}/api/v1${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ops}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      if (!res.ok) throw new Error(`POST ${path}: ${res.status} ${await res.text()}`);
      return (await res.json()) as { id: string; state: string };
    };
    const sample = async (waveId: string) => {
      const [row] = await ds.query<{ done: string; pending: string; state: string }[]>(
        `SELECT (SELECT COALESCE(sum(value), 0) FROM wave_counters
                  WHERE wave_id = $1 AND name IN ('enabled', 'skipped', 'failed')) AS done,
                (SELECT COALESCE(sum(value), 0) FROM wave_counters WHERE wave_id = $1 AND name = 'pending') AS pending,
                (SELECT state FROM waves WHERE id = $1) AS state`,
        [waveId],
      );
      return { done: Number(row.done), busy: row.state === 'running' && Number(row.pending) > 0, at: Date.now() };
    };
    const pids = { api: api.proc.pid!, worker: worker.proc.pid!, sim: sim.proc.pid! };
    return {
      origin,
      ds,
      secrets: { ops, signals, viewers },
      pids,
      createWave: async (ratePerSecond) =>
        (
          await post('/waves', {
            name: 'bench: everyone',
            selector: { type: 'cohorts', cohorts: ['general', 'health'] },
            protocols: ['imap', 'pop3'],
            ratePerSecond,
            batchSize: 500,
            concurrency: 8,
          })
        ).id,
      startWave: async (id) => void (await post(`/waves/${id}/start`)),
      cancelWave: async (id) => void (await post(`/waves/${id}/cancel`).catch(() => undefined)), // may have completed
      window: async (waveId, name, seconds, extraPids = {}) => {
        const cpu = new CpuMeter(
          { api: [pids.api], worker: [pids.worker], sim: [pids.sim], bench: [process.pid], ...extraPids },
          new URL(url).pathname.slice(1),
        );
        await cpu.start();
        const first = await sample(waveId);
        let last = first;
        while (Date.now() - first.at < seconds * 1000) {
          await sleep(1000);
          const s = await sample(waveId);
          if (!s.busy) break;
          last = s;
        }
        if (last === first) throw new Error(`the wave finished before the ${name} window: raise BENCH_ACCOUNTS`);
        const rate = (last.done - first.done) / ((last.at - first.at) / 1000);
        const cores = await cpu.stop();
        const secs = (last.at - first.at) / 1000;
        log(`${name}: ${Math.round(rate)} members/s over ${secs.toFixed(1)} s; cores ${JSON.stringify(cores)}`);
        return { rate, seconds: secs, cores };
      },
      scrape: async () =>
        (await fetch(`${origin}/api/v1/metrics`, { headers: { authorization: `Bearer ${ops}` } })).text(),
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
