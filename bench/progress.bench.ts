/**
 * bench:progress — dashboards polling progress while a large wave runs, at a rate given by `--rate=N` (accounts/s;
 * BENCH_RATE; `max` or absent: full speed).
 *
 * One database with N accounts (BENCH_ACCOUNTS; default 2,000,000 at full speed, so the wave outlasts the three
 * windows at ~30k members/s, and what the rate needs otherwise; same synthetic population as bench:import), the
 * simulator, a worker and the API as separate processes (api-wave-world.ts), one wave over every account. While it runs, three back-to-back windows: quiet (BENCH_QUIET_SECONDS, 15), polled (BENCH_SECONDS,
 * 30), quiet (15). In the polled window a load generator (progress-load.ts, its own process) polls as 20 dashboards
 * would (one connection and key each, each asking again at a steady cadence once answered), BENCH_RPS (200) requests/s
 * in all, GET /progress and GET /waves/{id}/progress over 20 viewer keys (each stays under the per-key limit), without
 * If-None-Match (the worst case). The wave's throughput (members reaching an outcome per second, read from its
 * counters) in the polled window is compared with the mean of the two quiet ones around it: drift over the run
 * (tables growing, caches warming) cancels out.
 * Before the wave starts, the same polling runs with no wave (floorNoWave, after a 5 s warm-up): the latency this
 * machine gives the API at best, to tell the wave's effect from the machine's own.
 * Latency: p99Ms is the client's, each request timed once from its write to its answer's last byte (so it includes the
 * load generator's own waits for CPU on a busy machine: `client` says how late it sent and how long its event loop
 * waited; autocannonP99Ms is what autocannon, used until session 9, would have said for the same answers); serverMs is
 * the API's own view from its request histogram; apiEventLoopDelayMs says how long the API's event loop waited beyond
 * its 10 ms sampling timer, apiGc its garbage collections. coresUsed splits the machine between the processes.
 * Targets (issue 21): at 5,000 accounts/s, p99 ≤ 20 ms; at full speed, p99 ≤ 2 × floorNoWave.p99Ms (p99OverFloor ≤ 2);
 * throughputRatio ≥ 0.9. Last line: JSON with rate, p99Ms, floorNoWave.p99Ms and throughputRatio.
 */
import 'reflect-metadata';
import { loadavg, setPriority } from 'node:os';
import { conditions, log } from './bench-utils';
import { FULL_SPEED, rateOption, round1, sleep, startApiWaveWorld } from './api-wave-world';
import { LoadProcess, poll as pollHere, PollOptions, PollResult, startLoadProcess } from './progress-load';

/** The wave's ratePerSecond: `--rate=5000` (or BENCH_RATE); `max` or absent, full speed. */
const RATE = rateOption();
const SECONDS = Number(process.env.BENCH_SECONDS ?? 30);
const RPS = Number(process.env.BENCH_RPS ?? 200);
/** Quiet windows around the polled one (shorter than it: the wave must outlast all three). */
const QUIET_SECONDS = Number(process.env.BENCH_QUIET_SECONDS ?? 15);
const WARMUP_SECONDS = 5;
/** Polling with no wave running, before it starts: what this machine gives the API at best. */
const FLOOR_SECONDS = Number(process.env.BENCH_FLOOR_SECONDS ?? 15);
/**
 * At full speed (~15–30k members/s here), 2,000,000 accounts outlast the three windows; at a set rate, what the
 * rate needs for them plus a margin (the wave starts with freezing its membership).
 */
const ACCOUNTS = Number(
  process.env.BENCH_ACCOUNTS ??
    (RATE >= FULL_SPEED ? 2_000_000 : Math.max(100_000, RATE * (WARMUP_SECONDS + 2 * QUIET_SECONDS + SECONDS + 30))),
);
const VIEWER_KEYS = 20;
/** BENCH_LOAD_INLINE=1 (diagnosis): the load generator in the bench's own process, as before session 9. */
const LOAD_INLINE = process.env.BENCH_LOAD_INLINE === '1';
const niceOf = (name: string) => (process.env[name] === undefined ? undefined : Number(process.env[name]));
/** Niceness of the load generator and of the simulator: machines that are not the service's (see benchmarks.md). */
const LOAD_NICE = niceOf('BENCH_LOAD_NICE');
const SIM_NICE = niceOf('BENCH_SIM_NICE');

/** Cumulative bucket counts of the two progress routes (answers 200/304) in one /metrics text, by bound (s). */
function progressBuckets(text: string): Map<number, number> {
  const buckets = new Map<number, number>();
  const line = /^reopen_api_request_duration_seconds_bucket\{([^}]*)\} (\d+)$/gm;
  for (const [, labels, count] of text.matchAll(line)) {
    if (!/route="\/api\/v1\/(progress|waves\/:id\/progress)"/.test(labels) || !/status="(200|304)"/.test(labels))
      continue;
    const le = /le="([^"]+)"/.exec(labels)![1];
    const bound = le === '+Inf' ? Infinity : Number(le);
    buckets.set(bound, (buckets.get(bound) ?? 0) + Number(count));
  }
  return buckets;
}

/**
 * Server-side latency of the progress answers between two scrapes: the bucket bound (ms) under which 50 % and 99 %
 * of them fell. Unlike the client's figure, it leaves out the load generator's own waits for CPU.
 */
function serverLatency(before: string, after: string): { count: number; p50AtMostMs: number; p99AtMostMs: number } {
  const a = progressBuckets(before);
  const b = progressBuckets(after);
  const bounds = [...b.keys()].sort((x, y) => x - y);
  const count = (b.get(Infinity) ?? 0) - (a.get(Infinity) ?? 0);
  const at = (q: number) => bounds.find((le) => (b.get(le) ?? 0) - (a.get(le) ?? 0) >= q * count) ?? Infinity;
  return { count, p50AtMostMs: at(0.5) * 1000, p99AtMostMs: at(0.99) * 1000 };
}

/** The API's garbage collections between two scrapes, by kind (minor, major, incremental, weakcb): count, total ms. */
function gcBetween(before: string, after: string): Record<string, { count: number; totalMs: number }> {
  const read = (text: string) => {
    const out = new Map<string, { count: number; sum: number }>();
    const line = /^reopen_api_nodejs_gc_duration_seconds_(sum|count)\{kind="([^"]+)"\} (\S+)$/gm;
    for (const [, what, kind, value] of text.matchAll(line)) {
      const k = out.get(kind) ?? { count: 0, sum: 0 };
      if (what === 'sum') k.sum = Number(value);
      else k.count = Number(value);
      out.set(kind, k);
    }
    return out;
  };
  const a = read(before);
  const gc: Record<string, { count: number; totalMs: number }> = {};
  for (const [kind, b] of read(after)) {
    const count = b.count - (a.get(kind)?.count ?? 0);
    if (count > 0) gc[kind] = { count, totalMs: round1((b.sum - (a.get(kind)?.sum ?? 0)) * 1000) };
  }
  return gc;
}

/** The load generator's own event-loop delay and CPU over a window. */
const clientOf = (r: PollResult) => ({
  sendLagMs: r.sendLagMs,
  eventLoopDelayMs: r.clientEventLoopDelayMs,
  cores: r.clientCores,
});

async function main(): Promise<void> {
  const world = await startApiWaveWorld('progress', ACCOUNTS, { viewerKeys: VIEWER_KEYS });
  let load: LoadProcess | undefined;
  try {
    const { origin } = world;
    // Diagnosis only (off by default): BENCH_API_NICE=-10 emulates an API with CPU of its own, as in production
    // where it does not share two cores with PostgreSQL and the worker.
    const apiNice = process.env.BENCH_API_NICE ? Number(process.env.BENCH_API_NICE) : null;
    if (apiNice !== null) setPriority(world.pids.api, apiNice);
    if (SIM_NICE !== undefined) setPriority(world.pids.sim, SIM_NICE);
    load = LOAD_INLINE ? undefined : await startLoadProcess(LOAD_NICE);
    if (LOAD_INLINE && LOAD_NICE !== undefined) setPriority(process.pid, LOAD_NICE);
    const waveId = await world.createWave(RATE);
    // BENCH_PATHS (comma-separated, `:wave` for the wave id) replaces the two progress paths, for diagnosis.
    const paths = (process.env.BENCH_PATHS ?? '/api/v1/progress,/api/v1/waves/:wave/progress')
      .split(',')
      .map((path) => path.replace(':wave', waveId));
    const poll = (seconds: number): Promise<PollResult> => {
      const options: PollOptions = {
        origin,
        paths,
        keys: world.secrets.viewers,
        rps: RPS,
        seconds,
        connections: VIEWER_KEYS,
        generator: process.env.BENCH_LOAD_GENERATOR === 'autocannon' ? 'autocannon' : 'steady',
      };
      return load ? load.poll(options) : pollHere(options);
    };
    // The floor: the same polling with no wave running (after a warm-up, so the API's code is compiled and the
    // caches filled). On a virtual machine whose CPUs the host shares, this alone can exceed the target; the
    // polled window's figure is only the wave's effect where the two differ.
    await poll(WARMUP_SECONDS);
    const floorBefore = await world.scrape();
    const floor = await poll(FLOOR_SECONDS);
    const floorAfter = await world.scrape();
    log(`floor (no wave): p50 ${floor.latency.p50} ms, p99 ${floor.latency.p99} ms over ${floor.requests} requests`);
    log(`starting wave ${waveId} over ${ACCOUNTS} accounts at ${RATE}/s (freezing the membership)…`);
    await world.startWave(waveId);
    await sleep(WARMUP_SECONDS * 1000);

    const quietBefore = await world.window(waveId, 'quiet before', QUIET_SECONDS);
    // The API's event-loop delay over the polled window (prom-client resets it at each scrape): it tells CPU
    // starvation of the API process apart from time spent waiting on PostgreSQL or Redis.
    const before = await world.scrape();
    const cannon = poll(SECONDS);
    const polled = await world.window(waveId, 'polled', SECONDS);
    const result = await cannon;
    const metricsText = await world.scrape();
    const server = serverLatency(before, metricsText);
    // prom-client's monitor ticks every 10 ms and Node records each tick's whole interval: the wait is what exceeds it.
    const lag = (text: string, name: string) =>
      Math.max(
        0,
        round1(
          Number(new RegExp(`^reopen_api_nodejs_eventloop_lag_${name}_seconds (\\S+)$`, 'm').exec(text)?.[1]) * 1000 -
            10,
        ),
      );
    const lags = (text: string) => ({ p50: lag(text, 'p50'), p99: lag(text, 'p99'), max: lag(text, 'max') });
    if (polled.seconds < SECONDS - 2)
      throw new Error('the wave finished during the polled window: raise BENCH_ACCOUNTS');
    const quietAfter = await world.window(waveId, 'quiet after', QUIET_SECONDS);
    await world.cancelWave(waveId);

    const baseline = (quietBefore.rate + quietAfter.rate) / 2;
    process.stdout.write(
      `${JSON.stringify({
        bench: 'progress',
        rate: RATE >= FULL_SPEED ? 'max' : RATE,
        accounts: ACCOUNTS,
        seconds: SECONDS,
        targetRps: RPS,
        loadGenerator: `${process.env.BENCH_LOAD_GENERATOR === 'autocannon' ? 'autocannon' : 'steady'}, ${LOAD_INLINE ? 'bench process' : 'own process'}`,
        requests: result.requests,
        achievedRps: result.achievedRps,
        non2xx: result.non2xx,
        errors: result.errors,
        p50Ms: result.latency.p50,
        p99Ms: result.latency.p99,
        maxMs: result.latency.max,
        p90Ms: result.latency.p90,
        autocannonP99Ms: result.autocannonP99Ms,
        floorNoWave: {
          p50Ms: floor.latency.p50,
          p99Ms: floor.latency.p99,
          maxMs: floor.latency.max,
          autocannonP99Ms: floor.autocannonP99Ms,
          client: clientOf(floor),
          serverMs: serverLatency(floorBefore, floorAfter),
          apiEventLoopDelayMs: lags(floorAfter),
          apiGc: gcBetween(floorBefore, floorAfter),
        },
        p99OverFloor: round1(result.latency.p99 / Math.max(1, floor.latency.p99)),
        serverMs: server,
        apiEventLoopDelayMs: lags(metricsText),
        apiGc: gcBetween(before, metricsText),
        client: clientOf(result),
        bytesPerAnswer: result.bytesPerAnswer,
        quietMembersPerSecond: [Math.round(quietBefore.rate), Math.round(quietAfter.rate)],
        quietSeconds: [round1(quietBefore.seconds), round1(quietAfter.seconds)],
        polledMembersPerSecond: Math.round(polled.rate),
        throughputRatio: Number((polled.rate / baseline).toFixed(3)),
        coresUsed: { quietBefore: quietBefore.cores, polled: polled.cores },
        apiNice,
        loadNice: LOAD_NICE ?? 0,
        simNice: SIM_NICE ?? 0,
        loadAverage: loadavg().map(round1),
        targets: RATE >= FULL_SPEED ? { p99OverFloor: 2, throughputRatio: 0.9 } : { p99Ms: 20, throughputRatio: 0.9 },
        ...(await conditions()),
      })}\n`,
    );
  } finally {
    await load?.close();
    await world.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
