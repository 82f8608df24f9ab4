/**
 * bench:progress's load generator: dashboards polling at a steady rate, in a process of its own, with what that
 * process itself costs and waits.
 *
 * Not autocannon (used until session 9): with `overallRate` it sends each connection's share of a second back to back
 * at the start of each second (bursts of 10 concurrent requests, not a steady 200/s), and "corrects for coordinated
 * omission" with an expected interval of 1 ms, recording an answer of v ms v times: its p99 was mostly that
 * correction (docs/benchmarks.md, progress). Here 20 dashboards poll at a steady cadence and each request is timed once.
 *
 * A client whose event loop is busy adds its own waits to every latency it reports, so the generator runs apart from
 * the bench's sampling and CPU meters, and reports its own event-loop delay and how late it sent (`sendLagMs`) next
 * to the latencies: a client-side tail can be told from the API's. The child is this same file (forked with
 * --progress-load), kept for every window of a run.
 */
import { ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { Agent, request } from 'node:http';
import { setPriority } from 'node:os';
import { IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import autocannon from 'autocannon';

export interface PollOptions {
  origin: string;
  paths: string[];
  /** Bearer keys, one per request in turn (dashboards). */
  keys: string[];
  rps: number;
  seconds: number;
  /** Dashboards polling, each on its own keep-alive connection (autocannon: connections). */
  connections: number;
  /** `autocannon` (BENCH_LOAD_GENERATOR): the generator used until session 9, to compare with in one round. */
  generator?: 'steady' | 'autocannon';
}

/** What one window of polling measured: autocannon's figures, and the client's own event loop and CPU. */
export interface PollResult {
  requests: number;
  achievedRps: number;
  non2xx: number;
  errors: number;
  latency: { p50: number; p90: number; p99: number; max: number };
  /** What autocannon 8 would have said for the same answers (see autocannonP99). */
  autocannonP99Ms: number;
  /** How late requests left against their schedule: this process's own waits (not measured with autocannon). */
  sendLagMs?: { p50: number; p99: number };
  /** Bytes of body per answer. */
  bytesPerAnswer: number;
  /** How long the client's event loop waited beyond its 10 ms sampling timer (ms). */
  clientEventLoopDelayMs: { p50: number; p99: number; max: number };
  /** CPU the client process used over the window, in cores. */
  clientCores: number;
}

/** The event-loop monitor's timer (ms): Node records each tick's whole interval, so this is subtracted. */
const RESOLUTION_MS = 10;

/** The q-quantile of sorted values (nearest rank). */
function quantile(sorted: readonly number[], q: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}
const ms1 = (n: number) => Math.round(n * 10) / 10;

/**
 * The p99 autocannon 8 would have reported for the same answers, for comparison with earlier runs: with
 * `overallRate` it "corrects for coordinated omission" with an expected interval of ceil(1 / per-connection rate)
 * = 1 ms, so each answer of v ms is recorded v times (v, v−1, … 1 ms), and the tail is counted once per millisecond.
 */
function autocannonP99(latencies: readonly number[]): number {
  const counts = new Map<number, number>();
  for (const l of latencies) {
    const v = Math.round(l);
    for (let m = v; m >= 1; m--) counts.set(m, (counts.get(m) ?? 0) + 1);
    if (v < 1) counts.set(v, (counts.get(v) ?? 0) + 1);
  }
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  let seen = 0;
  for (const v of [...counts.keys()].sort((a, b) => a - b)) {
    seen += counts.get(v)!;
    if (seen >= 0.99 * total) return v;
  }
  return 0;
}

/**
 * Polls as `connections` dashboards would, together `rps` requests a second: each on a keep-alive connection of its
 * own, with one key, asking again at a fixed cadence (period = connections / rps; the dashboards' phases spread
 * evenly, so the requests do too) but never before its previous answer came back — the status page's poller (a
 * timer after each answer). An answer later than the period delays that dashboard's next request (`sendLagMs`)
 * instead of piling requests up. Latency: from writing the request to the answer's last byte, each request once.
 * `sendLagMs` also holds this process's own waits for a CPU; its event-loop delay and CPU over the window too.
 */
export async function poll(options: PollOptions): Promise<PollResult> {
  if (options.generator === 'autocannon') return pollWithAutocannon(options);
  const { origin, paths, keys, rps, seconds, connections: dashboards } = options;
  const url = new URL(origin);
  const latencies: number[] = [];
  const lags: number[] = [];
  let non2xx = 0;
  let errors = 0;
  let bytes = 0;
  let sent = 0;
  const period = (dashboards * 1000) / rps;
  const get = (agent: Agent, path: string, key: string) =>
    new Promise<void>((resolve) => {
      const started = performance.now();
      const req = request(
        { host: url.hostname, port: url.port, path, agent, headers: { authorization: `Bearer ${key}` } },
        (res) => {
          res.on('data', (chunk: Buffer) => (bytes += chunk.length));
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) latencies.push(performance.now() - started);
            else non2xx++;
            resolve();
          });
        },
      );
      req.on('error', () => {
        errors++;
        resolve();
      });
      req.end();
    });
  const dashboard = async (d: number, t0: number) => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    for (let k = 0; ; k++) {
      const due = t0 + (k + d / dashboards) * period;
      if (due - t0 >= seconds * 1000) break;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      lags.push(performance.now() - due);
      sent++;
      await get(agent, paths[(k * dashboards + d) % paths.length], keys[d % keys.length]);
    }
    agent.destroy();
  };
  const delay = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  delay.enable();
  await Promise.all(Array.from({ length: dashboards }, (_, d) => dashboard(d, t0)));
  const elapsed = performance.now() - t0;
  delay.disable();
  const cpu = process.cpuUsage(cpu0);
  const sorted = [...latencies].sort((a, b) => a - b);
  const lagSorted = [...lags].sort((a, b) => a - b);
  return {
    requests: sent,
    achievedRps: Math.round((latencies.length + non2xx) / (elapsed / 1000)),
    non2xx,
    errors,
    latency: {
      p50: ms1(quantile(sorted, 0.5)),
      p90: ms1(quantile(sorted, 0.9)),
      p99: ms1(quantile(sorted, 0.99)),
      max: ms1(sorted.at(-1) ?? 0),
    },
    autocannonP99Ms: autocannonP99(latencies),
    sendLagMs: { p50: ms1(quantile(lagSorted, 0.5)), p99: ms1(quantile(lagSorted, 0.99)) },
    bytesPerAnswer: Math.round(bytes / Math.max(1, latencies.length + non2xx)),
    clientEventLoopDelayMs: beyondTimer(delay),
    clientCores: Math.round(((cpu.user + cpu.system) / 1000 / elapsed) * 100) / 100,
  };
}

/** The event-loop delay beyond the monitor's timer: Node records each tick's whole interval. */
function beyondTimer(delay: IntervalHistogram): PollResult['clientEventLoopDelayMs'] {
  const beyond = (ns: number) => Math.max(0, ms1(ns / 1e6 - RESOLUTION_MS));
  return { p50: beyond(delay.percentile(50)), p99: beyond(delay.percentile(99)), max: beyond(delay.max) };
}

/** The same window with autocannon 8, as before session 9 (10 connections, `overallRate`): its figures as it says. */
async function pollWithAutocannon(options: PollOptions): Promise<PollResult> {
  const { origin, paths, keys, rps, seconds } = options;
  let next = 0;
  const authorize = (req: autocannon.Request): autocannon.Request => ({
    ...req,
    headers: { ...req.headers, authorization: `Bearer ${keys[next++ % keys.length]}` },
  });
  const delay = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  delay.enable();
  const result = await autocannon({
    url: origin,
    connections: 10,
    overallRate: rps,
    duration: seconds,
    requests: paths.map((path) => ({ method: 'GET' as const, path, setupRequest: authorize })),
  });
  delay.disable();
  const cpu = process.cpuUsage(cpu0);
  const { p50, p90, p99, max } = result.latency;
  return {
    requests: result.requests.total,
    achievedRps: Math.round(result.requests.average),
    non2xx: result.non2xx,
    errors: result.errors,
    latency: { p50, p90, p99, max },
    autocannonP99Ms: p99,
    bytesPerAnswer: Math.round(result.throughput.total / Math.max(1, result.requests.total)),
    clientEventLoopDelayMs: beyondTimer(delay),
    clientCores: Math.round(((cpu.user + cpu.system) / 1000 / (performance.now() - t0)) * 100) / 100,
  };
}

/** The load generator as a child process (this file), at `nice` when given; `poll` runs one window in it. */
export interface LoadProcess {
  pid: number;
  poll(options: PollOptions): Promise<PollResult>;
  close(): Promise<void>;
}

export async function startLoadProcess(nice?: number): Promise<LoadProcess> {
  const child: ChildProcess = fork(__filename, ['--progress-load'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  await once(child, 'spawn');
  if (nice !== undefined) setPriority(child.pid!, nice);
  return {
    pid: child.pid!,
    poll: async (options) => {
      child.send(options);
      const [answer] = (await Promise.race([
        once(child, 'message'),
        once(child, 'exit').then(() => {
          throw new Error('the load generator exited');
        }),
      ])) as [{ result?: PollResult; error?: string }];
      if (!answer.result) throw new Error(`load generator: ${answer.error}`);
      return answer.result;
    },
    close: async () => {
      if (child.exitCode !== null) return;
      const exited = once(child, 'exit');
      child.disconnect();
      await exited;
    },
  };
}

if (process.argv[2] === '--progress-load' && process.send) {
  process.on('message', (options: PollOptions) => {
    poll(options).then(
      (result) => process.send!({ result }),
      (err: unknown) => process.send!({ error: err instanceof Error ? err.message : String(err) }),
    );
  });
}
