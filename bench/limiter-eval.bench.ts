/**
 * bench:limiter-eval — issue 4's question: do the well-kept distributed limiters keep every 1-second window within
 * 110 % of the set rate (500 accounts/s, batches of 50, two worker processes), or do we need our own pace?
 *
 * For each limiter, two child processes (this file with --child) each run 4 concurrent loops for 30 s: acquire one
 * batch of 50 accounts, record Date.now() (the batch "starts"; no HTTP, no database), repeat. All against the
 * local Redis under a unique key prefix, deleted at the end.
 *
 * - bottleneck (Redis clustering, `datastore: 'ioredis'`): `minTime: 100` (one batch every 100 ms = 10 batches/s
 *   = 500 accounts/s, shared through Redis), `maxConcurrent: null`, no reservoir (a reservoir refilled every second
 *   is a fixed window: it allows up to 2× in a sliding second; minTime spaces starts evenly).
 * - rate-limiter-flexible `RateLimiterRedis`: points 500 per 1 s, consume 50 per batch; on rejection wait
 *   `msBeforeNext` and try again.
 * - ours: `Throttle.acquire({cost: 50, waveRate: 500, mailstoreRate: 0})` (Redis GCRA with reservations).
 *
 * The parent spawns both children, waits until both are connected, then sends them the same start instant (a
 * whole second, so calendar seconds line up). Figures over [start, start + 30 s): mean accounts/s; max and min over
 * the 30 calendar seconds; max over sliding 1,000 ms windows (one starting at each recorded batch, ending inside
 * the run); how many of each exceed 550 (110 %).
 *
 *   npm run bench:limiter-eval [-- --seconds=30 --rate=500 --batch=50 --loops=4 --only=bottleneck,flexible,throttle]
 *
 * Last line: {"bench":"limiter-eval","results":{"bottleneck":{…},"rateLimiterFlexible":{…},"throttle":{…}},…}
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import Bottleneck from 'bottleneck';
import Redis from 'ioredis';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { Throttle } from '@app/core';
import { log } from './bench-utils';
import { CpuMeter, numberOption, REDIS_URL, round, runBench, sleep, type Cleanup } from './engine-bench-utils';
import { redisPrefix } from './engine-bench-world';

const SECONDS = numberOption('seconds', 30);
const RATE = numberOption('rate', 500);
const BATCH = numberOption('batch', 50);
const LOOPS = numberOption('loops', 4);
const PROCESSES = 2;
const LIMITERS = ['bottleneck', 'flexible', 'throttle'] as const;
type LimiterName = (typeof LIMITERS)[number];

function stringOption(name: string): string | undefined {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  return arg ? arg.slice(name.length + 3) : undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// Child: one "worker process"

interface ChildReport {
  times: number[];
  retries: number;
  acquireMsP50: number;
  acquireMsMax: number;
  /** CPU time of this process during the run (user + system), ms. */
  cpuMs: number;
}

interface Acquirer {
  /** Resolves with the instant the batch may start, or null if the run ended while waiting. */
  acquire(endAt: number): Promise<{ at: number; retries: number } | null>;
  close(): Promise<void>;
}

async function makeAcquirer(lib: LimiterName, prefix: string): Promise<Acquirer> {
  const url = new URL(REDIS_URL);
  if (lib === 'bottleneck') {
    const limiter = new Bottleneck({
      id: prefix,
      datastore: 'ioredis',
      clientOptions: { host: url.hostname, port: Number(url.port || 6379) },
      Redis,
      minTime: Math.round((1000 * BATCH) / RATE),
      maxConcurrent: null,
      timeout: 120_000, // keys expire even if the cleanup never runs
    });
    await limiter.ready();
    return {
      acquire: async (endAt) => {
        let at = 0;
        await limiter.schedule(() => {
          at = Date.now();
          return Promise.resolve();
        });
        return at < endAt ? { at, retries: 0 } : null;
      },
      close: () => limiter.disconnect(false),
    };
  }
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 3 });
  await redis.ping();
  if (lib === 'flexible') {
    const limiter = new RateLimiterRedis({ storeClient: redis, keyPrefix: `${prefix}:rlf`, points: RATE, duration: 1 });
    return {
      acquire: async (endAt) => {
        let retries = 0;
        for (;;) {
          try {
            await limiter.consume('batches', BATCH);
            const at = Date.now();
            return at < endAt ? { at, retries } : null;
          } catch (err) {
            if (!(err instanceof RateLimiterRes)) throw err;
            retries++;
            await sleep(Math.max(1, err.msBeforeNext));
            if (Date.now() >= endAt) return null;
          }
        }
      },
      close: async () => {
        redis.disconnect();
        await Promise.resolve();
      },
    };
  }
  const throttle = new Throttle(redis, prefix);
  return {
    acquire: async (endAt) => {
      await throttle.acquire({ cost: BATCH, waveRate: RATE, waveKey: 'eval', mailstoreRate: 0, maxWaitMs: 1000 });
      const at = Date.now();
      return at < endAt ? { at, retries: 0 } : null;
    },
    close: async () => {
      redis.disconnect();
      await Promise.resolve();
    },
  };
}

async function child(): Promise<void> {
  const lib = stringOption('lib') as LimiterName;
  const prefix = stringOption('prefix')!;
  const acquirer = await makeAcquirer(lib, prefix);
  process.stdout.write('ready\n');
  const line = await new Promise<string>((resolve) => {
    const rl = createInterface({ input: process.stdin });
    rl.once('line', (l) => {
      rl.close();
      process.stdin.destroy();
      resolve(l);
    });
  });
  const { startAt, endAt } = JSON.parse(line) as { startAt: number; endAt: number };
  await sleep(Math.max(0, startAt - Date.now()));
  const cpu0 = process.cpuUsage();
  const times: number[] = [];
  const waits: number[] = [];
  let retries = 0;
  const loop = async () => {
    while (Date.now() < endAt) {
      const asked = performance.now();
      const got = await acquirer.acquire(endAt);
      if (!got) return;
      waits.push(performance.now() - asked);
      retries += got.retries;
      if (got.at >= startAt) times.push(got.at);
    }
  };
  await Promise.all(Array.from({ length: LOOPS }, () => loop()));
  const cpu = process.cpuUsage(cpu0);
  await acquirer.close();
  waits.sort((a, b) => a - b);
  const report: ChildReport = {
    times,
    retries,
    acquireMsP50: round(waits[Math.floor(waits.length / 2)] ?? 0, 1),
    acquireMsMax: round(waits[waits.length - 1] ?? 0, 1),
    cpuMs: round((cpu.user + cpu.system) / 1000),
  };
  // Exit explicitly: a limiter's timers or sockets must not keep the process (and the parent) waiting.
  process.stdout.write(`${JSON.stringify(report)}\n`, () => process.exit(0));
}

// ---------------------------------------------------------------------------------------------------------------
// Parent

function redisServerPids(): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/comm`, 'utf8').trim().startsWith('redis-server')) pids.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

async function deleteKeys(pattern: string): Promise<number> {
  const client = new Redis(REDIS_URL, { maxRetriesPerRequest: 3 });
  try {
    let cursor = '0';
    let deleted = 0;
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      if (keys.length) deleted += await client.del(...keys);
      cursor = next;
    } while (cursor !== '0');
    return deleted;
  } finally {
    client.disconnect();
  }
}

interface Spawned {
  pid: number;
  ready: Promise<void>;
  report: Promise<ChildReport>;
  send(line: string): void;
  kill(): void;
}

function spawnChild(lib: LimiterName, prefix: string): Spawned {
  const proc = spawn(process.execPath, [__filename, '--child', `--lib=${lib}`, `--prefix=${prefix}`], {
    env: { ...process.env, BENCH_SECONDS: String(SECONDS), BENCH_RATE: String(RATE), BENCH_BATCH: String(BATCH) },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  createInterface({ input: proc.stderr }).on('line', (l) => log(`[${lib} ${proc.pid}!] ${l}`));
  let onReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  const report = new Promise<ChildReport>((resolve, reject) => {
    let last: ChildReport | null = null;
    createInterface({ input: proc.stdout }).on('line', (l) => {
      if (l === 'ready') onReady();
      else if (l.startsWith('{')) last = JSON.parse(l) as ChildReport;
    });
    proc.once('exit', (code) =>
      last ? resolve(last) : reject(new Error(`${lib} child ${proc.pid} exited (code ${code}) without a report`)),
    );
  });
  void report.catch(() => undefined);
  return {
    pid: proc.pid!,
    ready: Promise.race([ready, report.then(() => undefined)]),
    report,
    send: (line) => proc.stdin.write(`${line}\n`),
    kill: () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
    },
  };
}

interface Figures {
  meanAccountsPerSecond: number;
  calendarMax: number;
  calendarMin: number;
  calendarSecondsOver110: number;
  slidingMax: number;
  slidingWindowsOver110: number;
  slidingWindows: number;
  batches: number;
}

/** Mean, calendar seconds and sliding 1,000 ms windows over [startAt, endAt) of batch start times. */
export function analyze(times: number[], startAt: number, endAt: number, batch: number, limit: number): Figures {
  const t = times.filter((x) => x >= startAt && x < endAt).sort((a, b) => a - b);
  const seconds = (endAt - startAt) / 1000;
  const perSecond = new Array<number>(Math.round(seconds)).fill(0);
  for (const x of t) perSecond[Math.floor((x - startAt) / 1000)] += batch;
  let slidingMax = 0;
  let slidingOver = 0;
  let windows = 0;
  let j = 0;
  for (let i = 0; i < t.length && t[i] + 1000 <= endAt; i++) {
    while (j < t.length && t[j] < t[i] + 1000) j++;
    const sum = (j - i) * batch;
    windows++;
    if (sum > limit) slidingOver++;
    if (sum > slidingMax) slidingMax = sum;
  }
  return {
    meanAccountsPerSecond: round((t.length * batch) / seconds, 1),
    calendarMax: Math.max(...perSecond),
    calendarMin: Math.min(...perSecond),
    calendarSecondsOver110: perSecond.filter((x) => x > limit).length,
    slidingMax,
    slidingWindowsOver110: slidingOver,
    slidingWindows: windows,
    batches: t.length,
  };
}

async function evaluate(cleanup: Cleanup, lib: LimiterName) {
  const prefix = redisPrefix(cleanup, `limiter-${lib}`);
  if (lib === 'bottleneck') {
    cleanup.add(`redis keys b_${prefix}*`, async () =>
      log(`deleted ${await deleteKeys(`b_${prefix}*`)} bottleneck keys`),
    );
  }
  const children = Array.from({ length: PROCESSES }, () => spawnChild(lib, prefix));
  cleanup.add(`stop ${lib} children`, () => children.forEach((c) => c.kill()));
  await Promise.race([
    Promise.all(children.map((c) => c.ready)),
    sleep(30_000).then(() => {
      throw new Error(`${lib} children not ready within 30 s`);
    }),
  ]);
  const startAt = Math.ceil((Date.now() + 500) / 1000) * 1000;
  const endAt = startAt + SECONDS * 1000;
  const cpu = new CpuMeter({ redis: redisServerPids(), bench: [process.pid] });
  await cpu.start();
  for (const c of children) c.send(JSON.stringify({ startAt, endAt }));
  const reports = await Promise.all(children.map((c) => c.report));
  const usage = await cpu.stop();
  // The children report their own CPU (they have exited by now); `others` is what is left of the machine.
  const childrenCores = round(reports.reduce((s, r) => s + r.cpuMs, 0) / (Date.now() - startAt), 2);
  const cpuCores = { children: childrenCores, ...usage, others: round(Math.max(0, usage.others - childrenCores), 2) };
  const figures = analyze(
    reports.flatMap((r) => r.times),
    startAt,
    endAt,
    BATCH,
    RATE * 1.1,
  );
  const result = {
    ...figures,
    pass: figures.calendarMax <= RATE * 1.1 && figures.slidingMax <= RATE * 1.1,
    batchesPerProcess: reports.map((r) => r.times.length),
    rejectedAttempts: reports.reduce((s, r) => s + r.retries, 0),
    acquireMsP50: reports.map((r) => r.acquireMsP50),
    acquireMsMax: reports.map((r) => r.acquireMsMax),
    cpuCores,
  };
  log(`${lib}: ${JSON.stringify(result)}`);
  return result;
}

if (process.argv.includes('--child')) {
  child().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
} else {
  runBench('limiter-eval', async (cleanup) => {
    const only = (stringOption('only')?.split(',') ?? [...LIMITERS]) as LimiterName[];
    const settings = {
      bottleneck: `datastore ioredis (clustering), minTime ${Math.round((1000 * BATCH) / RATE)} ms, maxConcurrent null, no reservoir`,
      flexible: `RateLimiterRedis points ${RATE} / duration 1 s, consume ${BATCH}; on rejection sleep msBeforeNext`,
      throttle: `Throttle.acquire cost ${BATCH}, waveRate ${RATE}, mailstoreRate 0, maxWaitMs 1000`,
    };
    const names = { bottleneck: 'bottleneck', flexible: 'rateLimiterFlexible', throttle: 'throttle' };
    const results: Record<string, unknown> = {};
    for (const lib of LIMITERS.filter((l) => only.includes(l))) {
      log(`${lib}: ${PROCESSES} processes × ${LOOPS} loops, ${SECONDS} s…`);
      results[names[lib]] = { settings: settings[lib], ...(await evaluate(cleanup, lib)) };
    }
    return {
      results,
      limit: RATE * 1.1,
      rate: RATE,
      batch: BATCH,
      processes: PROCESSES,
      loopsPerProcess: LOOPS,
      seconds: SECONDS,
      versions: {
        bottleneck: (
          JSON.parse(readFileSync(require.resolve('bottleneck/package.json'), 'utf8')) as { version: string }
        ).version,
        rateLimiterFlexible: (
          JSON.parse(readFileSync(require.resolve('rate-limiter-flexible/package.json'), 'utf8')) as { version: string }
        ).version,
      },
    };
  });
}
