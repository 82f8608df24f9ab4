/**
 * bench:events — the login-event ingestion endpoint (POST /login-events, issue 19) under the mail server's load while
 * a wave runs.
 *
 * The world of bench:progress (api-wave-world.ts: simulator, worker and API as separate processes, N accounts), one
 * wave over every account at `--rate=N` accounts/s (BENCH_RATE; `max` or absent: full speed). While it runs, three
 * back-to-back windows: quiet (BENCH_QUIET_SECONDS, 15), loaded (BENCH_SECONDS, 30), quiet (15). In the loaded window
 * this process posts BENCH_EVENTS_PER_SECOND (5,000) events a second, as Dovecot 2.3's event exporter does
 * (deploy/dovecot/events.conf: `format = json`, `transport = http-post`, ONE event per POST, the signals key in the
 * URL, `transport_timeout = 2sec`): `auth_request_finished` events of the population's users (IMAP and POP3, 3 %
 * failures), each with its own session. The sender is open-loop (events are due at the rate whatever the answers
 * do) over a keep-alive undici Pool of BENCH_CONNECTIONS (32) connections: bounded concurrency, as a mail server's
 * HTTP client. It posts by a bare dispatch handler (post()): it stands in for a mail server on another machine, and
 * on this one it shares the service's 2 cores, so it is kept cheap (senderCpuMsPerEventAtFixedRate says how cheap).
 *
 * dropped: events the service did not count, as the exporter sees it: no 202 within 2 s of falling due (Dovecot
 * gives up and loses the event), a connection error, any other status, or a 202 whose body says the event was
 * dropped (overflow, stale…). The
 * database's login_stream.received must grow by the accepted count (checked, `countedInDatabase`).
 * waveThroughputRatio: the wave's members/s in the loaded window ÷ the mean of the two quiet ones (same run).
 * p99Ms: client side, from the moment the event fell due to its answer (includes waiting for a free connection, as
 * in the exporter's own queue).
 * capacityNoWavePerSecond: before the wave, the same pool posting as fast as the answers come (closed loop, 5 s): what the
 * API ingests at most on this machine at that moment. apiCpuMsPerEvent: the API's CPU in the loaded window per event
 * it counted.
 * Targets: eventsPerSecond 5,000 sustained with 0 dropped, waveThroughputRatio ≥ 0.9. Last line: JSON.
 */
import 'reflect-metadata';
import { loadavg } from 'node:os';
import { Pool } from 'undici';
import { populationLogin } from '@app/testing';
import { conditions, log } from './bench-utils';
import { FULL_SPEED, rateOption, round1, sleep, startApiWaveWorld } from './api-wave-world';
import { cpuTicks, percentile, TICK_MS } from './engine-bench-utils';

const RATE = rateOption();
const EVENTS_PER_SECOND = Number(process.env.BENCH_EVENTS_PER_SECOND ?? 5000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 30);
const QUIET_SECONDS = Number(process.env.BENCH_QUIET_SECONDS ?? 15);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const WARMUP_SECONDS = 5;
/** The closed-loop capacity's window; BENCH_CAPACITY_ONLY=1 stops after it (no wave: the per-POST cost alone). */
const CAPACITY_SECONDS = Number(process.env.BENCH_CAPACITY_SECONDS ?? WARMUP_SECONDS);
const CAPACITY_ONLY = process.env.BENCH_CAPACITY_ONLY === '1';
/** With BENCH_CAPACITY_ONLY: then this many events/s for CAPACITY_SECONDS (open loop), the API's CPU per event. */
const FIXED_RATE = Number(process.env.BENCH_CAPACITY_FIXED_RATE ?? 200);
/** Dovecot's transport_timeout in deploy/dovecot/events.conf. */
const TIMEOUT_MS = 2000;
const ACCOUNTS = Number(
  process.env.BENCH_ACCOUNTS ??
    (RATE >= FULL_SPEED ? 2_000_000 : Math.max(100_000, RATE * (WARMUP_SECONDS + 2 * QUIET_SECONDS + SECONDS + 30))),
);

/** One event as Dovecot 2.3's exporter writes it (`format = json`, `format_args = time-rfc3339`). */
function dovecotEvent(n: number, at: Date): string {
  const ok = n % 33 !== 7; // ~3 % failures: users mistyping (a failure has no `success` field)
  const service = n % 3 === 0 ? 'pop3' : 'imap';
  const start = new Date(at.getTime() - 3).toISOString();
  return JSON.stringify({
    event: 'auth_request_finished',
    hostname: 'mx1',
    start_time: start,
    end_time: at.toISOString(),
    categories: ['auth'],
    fields: {
      user: populationLogin(1 + ((n * 7919) % ACCOUNTS)),
      service,
      local_ip: '192.0.2.10',
      local_port: service === 'imap' ? 993 : 995,
      remote_ip: `198.51.${(n >> 8) & 255}.${n & 255}`,
      remote_port: 40000 + (n % 20000),
      session: `bench${n.toString(36)}`,
      mechanism: 'PLAIN',
      transport: 'trusted',
      ...(ok ? { success: 'yes' } : { error: 'Password mismatch' }),
    },
  });
}

interface SendResult {
  due: number;
  accepted: number;
  /** By cause: timeout, error, status NNN, or the service's own reason (overflow, stale, duplicate…). */
  dropped: Record<string, number>;
  /** From the moment each accepted event was due to its answer, ms. */
  latencies: number[];
  seconds: number;
}

interface InFlight {
  deadline: number;
  abort?: (err: Error) => void;
}

/** The POSTs under way, and one timer for all of their deadlines (no timer per request). */
const inFlight = new Set<InFlight>();
let deadlineTimer: NodeJS.Timeout | undefined;
function watchDeadlines(): void {
  deadlineTimer ??= setInterval(() => {
    const now = performance.now();
    for (const entry of inFlight) if (entry.deadline <= now) entry.abort?.(new Error('transport_timeout'));
  }, 10).unref();
}

const HEADERS = ['content-type', 'application/json'];

/**
 * One POST on the pool, by a bare dispatch handler: no response stream, no AbortSignal, no timer of its own. The
 * sender stands in for Dovecot on another machine; with undici's request() (a Readable per answer, an
 * AbortSignal.timeout per event) it cost ~0.1 ms of CPU per event, here ~0.07 (docs/benchmarks.md "events").
 * `deadline` (performance.now() time) passed: aborted, and 'timeout', also for an answer that comes after it before the
 * shared timer's next 10 ms tick.
 */
function post(
  pool: Pool,
  path: string,
  body: string,
  deadline: number,
): Promise<{ status: number; text: string } | 'timeout' | 'error'> {
  watchDeadlines();
  return new Promise((resolve) => {
    const entry: InFlight = { deadline };
    let status = 0;
    let text = '';
    const done = (result: { status: number; text: string } | 'error') => {
      inFlight.delete(entry);
      resolve(performance.now() >= deadline ? 'timeout' : result);
    };
    inFlight.add(entry);
    pool.dispatch(
      { path, method: 'POST', headers: HEADERS, body },
      {
        onConnect: (abort: (err?: Error) => void) => (entry.abort = abort),
        onHeaders: (statusCode: number) => {
          status = statusCode;
          return true;
        },
        onData: (chunk: Buffer) => {
          text += chunk.toString();
          return true;
        },
        onComplete: () => done({ status, text }),
        onError: () => done('error'),
      },
    );
  });
}

/**
 * Posts events at `perSecond` for `seconds`: they fall due at that rate whatever the answers do (open loop) and wait
 * in the sender's queue for one of `connections` keep-alive connections (bounded concurrency, as the exporter's HTTP
 * client). An event not answered within TIMEOUT_MS of falling due is lost, as Dovecot loses it.
 */
async function sendEvents(
  pool: Pool,
  path: string,
  perSecond: number,
  seconds: number,
  connections: number,
): Promise<SendResult> {
  const r: SendResult = { due: 0, accepted: 0, dropped: {}, latencies: [], seconds };
  const drop = (cause: string, n = 1) => (r.dropped[cause] = (r.dropped[cause] ?? 0) + n);
  const queue: { n: number; dueAt: number }[] = [];
  let head = 0;
  let producing = true;
  /** Senders waiting for an event to fall due. */
  let idle: (() => void)[] = [];
  const wakeAll = () => {
    const waiting = idle;
    idle = [];
    for (const resolve of waiting) resolve();
  };
  const send = async () => {
    for (;;) {
      if (head === queue.length) {
        if (!producing) return;
        await new Promise<void>((resolve) => idle.push(resolve));
        continue;
      }
      const { n, dueAt } = queue[head++];
      if (performance.now() - dueAt >= TIMEOUT_MS) {
        drop('timeout');
        continue;
      }
      const res = await post(pool, path, dovecotEvent(n, new Date()), dueAt + TIMEOUT_MS);
      if (res === 'timeout' || res === 'error') {
        if (res === 'error' && !r.dropped.error) log('first connection error');
        drop(res);
      } else if (res.status !== 202) drop(`status ${res.status}`);
      else {
        const body = JSON.parse(res.text) as { accepted: number; dropped: Record<string, number> };
        r.accepted += body.accepted;
        for (const [reason, count] of Object.entries(body.dropped)) drop(reason, count);
        r.latencies.push(performance.now() - dueAt);
      }
    }
  };
  const senders = Array.from({ length: connections }, () => send());
  const started = performance.now();
  const total = Math.round(perSecond * seconds);
  while (r.due < total) {
    const now = performance.now();
    const target = Math.min(total, Math.floor(((now - started) / 1000) * perSecond));
    for (; r.due < target; r.due++) queue.push({ n: r.due, dueAt: started + (r.due / perSecond) * 1000 });
    if (head > 100_000) {
      queue.splice(0, head);
      head = 0;
    }
    wakeAll();
    await sleep(2);
  }
  producing = false;
  wakeAll();
  await Promise.all(senders);
  r.seconds = (performance.now() - started) / 1000;
  return r;
}

/**
 * The API's ingest capacity at that moment: `connections` loops posting one event after another as fast as the
 * answers come (closed loop), for `seconds`. Accepted events per second, and the API process's CPU per accepted
 * event (ms; /proc ticks of 10 ms, so give it a few seconds).
 */
async function capacity(
  pool: Pool,
  path: string,
  seconds: number,
  connections: number,
  apiPid: number,
): Promise<{ perSecond: number; apiCpuMsPerEvent: number }> {
  const ticks0 = cpuTicks(apiPid);
  const end = performance.now() + seconds * 1000;
  let accepted = 0;
  let n = 10_000_000; // sessions apart from the open-loop runs'
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < end) {
        const res = await post(pool, path, dovecotEvent(n++, new Date()), Infinity);
        if (typeof res === 'object' && res.status === 202)
          accepted += (JSON.parse(res.text) as { accepted: number }).accepted;
      }
    }),
  );
  const apiCpuMs = (cpuTicks(apiPid) - ticks0) * TICK_MS;
  return {
    perSecond: accepted / seconds,
    apiCpuMsPerEvent: Math.round((apiCpuMs / Math.max(1, accepted)) * 1000) / 1000,
  };
}

async function main(): Promise<void> {
  const world = await startApiWaveWorld('events', ACCOUNTS, { signals: true });
  const pool = new Pool(world.origin, { connections: CONNECTIONS, pipelining: 1, keepAliveTimeout: 30_000 });
  try {
    const path = `/api/v1/login-events?key=${encodeURIComponent(world.secrets.signals)}`;
    const received = async () =>
      Number((await world.ds.query<{ received: string }[]>(`SELECT received FROM login_stream`))[0]?.received ?? 0);
    // A warm-up with no wave (the API's code compiled, connections open), then the capacity with no wave.
    await capacity(pool, path, WARMUP_SECONDS, CONNECTIONS, world.pids.api);
    const noWave = await capacity(pool, path, CAPACITY_SECONDS, CONNECTIONS, world.pids.api);
    const capacityNoWave = noWave.perSecond;
    log(
      `capacity with no wave: ${Math.round(capacityNoWave)} events/s (closed loop, ${CONNECTIONS} connections), ` +
        `API CPU ${noWave.apiCpuMsPerEvent} ms per event`,
    );
    if (CAPACITY_ONLY) {
      // At a fixed rate the API can keep up with, the CPU per event does not depend on how many answers one wake-up
      // of the event loop writes (the closed loop's figure does): the figure to compare between two builds.
      const ticks0 = cpuTicks(world.pids.api);
      const own0 = process.cpuUsage();
      const fixed = await sendEvents(pool, path, FIXED_RATE, CAPACITY_SECONDS, CONNECTIONS);
      const fixedCpuMs = (cpuTicks(world.pids.api) - ticks0) * TICK_MS;
      const own = process.cpuUsage(own0);
      const senderCpuMs = (own.user + own.system) / 1000;
      const out = { bench: 'events', capacityOnly: true, seconds: CAPACITY_SECONDS, connections: CONNECTIONS };
      process.stdout.write(
        `${JSON.stringify({
          ...out,
          capacityNoWavePerSecond: Math.round(capacityNoWave),
          apiCpuMsPerEventNoWave: noWave.apiCpuMsPerEvent,
          fixedRate: FIXED_RATE,
          fixedAccepted: fixed.accepted,
          apiCpuMsPerEventAtFixedRate: Math.round((fixedCpuMs / Math.max(1, fixed.accepted)) * 1000) / 1000,
          // This process (the sender, and the world's pollers) per event due, at the fixed rate.
          senderCpuMsPerEventAtFixedRate: Math.round((senderCpuMs / Math.max(1, fixed.due)) * 1000) / 1000,
          loadAverage: loadavg().map(round1),
          ...(await conditions()),
        })}\n`,
      );
      return;
    }
    const waveId = await world.createWave(RATE);
    log(`starting wave ${waveId} over ${ACCOUNTS} accounts at ${RATE}/s (freezing the membership)…`);
    await world.startWave(waveId);
    await sleep(WARMUP_SECONDS * 1000);

    const quietBefore = await world.window(waveId, 'quiet before', QUIET_SECONDS);
    const receivedBefore = await received();
    const sending = sendEvents(pool, path, EVENTS_PER_SECOND, SECONDS, CONNECTIONS);
    const loaded = await world.window(waveId, 'loaded', SECONDS);
    const result = await sending;
    if (loaded.seconds < SECONDS - 2)
      throw new Error('the wave finished during the loaded window: raise BENCH_ACCOUNTS');
    const quietAfter = await world.window(waveId, 'quiet after', QUIET_SECONDS);
    // The ingest flushes every 250 ms: by now every accepted event is in login_stream.received.
    const counted = (await received()) - receivedBefore;
    await world.cancelWave(waveId);

    const latencies = result.latencies.sort((a, b) => a - b);
    const dropped = Object.values(result.dropped).reduce((a, b) => a + b, 0);
    const baseline = (quietBefore.rate + quietAfter.rate) / 2;
    log(`events: ${JSON.stringify({ ...result, latencies: latencies.length })}`);
    process.stdout.write(
      `${JSON.stringify({
        bench: 'events',
        rate: RATE >= FULL_SPEED ? 'max' : RATE,
        accounts: ACCOUNTS,
        targetEventsPerSecond: EVENTS_PER_SECOND,
        seconds: round1(result.seconds),
        connections: CONNECTIONS,
        eventsPerSecond: Math.round(result.accepted / result.seconds),
        due: result.due,
        accepted: result.accepted,
        countedInDatabase: counted,
        dropped,
        droppedBy: result.dropped,
        capacityNoWavePerSecond: Math.round(capacityNoWave),
        apiCpuMsPerEventNoWave: noWave.apiCpuMsPerEvent,
        apiCpuMsPerEvent: round1((loaded.cores.api * loaded.seconds * 1000) / Math.max(1, counted)),
        p50Ms: round1(percentile(latencies, 0.5)),
        p99Ms: round1(percentile(latencies, 0.99)),
        maxMs: round1(latencies[latencies.length - 1] ?? NaN),
        quietMembersPerSecond: [Math.round(quietBefore.rate), Math.round(quietAfter.rate)],
        loadedMembersPerSecond: Math.round(loaded.rate),
        waveThroughputRatio: Number((loaded.rate / baseline).toFixed(3)),
        coresUsed: { quietBefore: quietBefore.cores, loaded: loaded.cores },
        loadAverage: loadavg().map(round1),
        targets: { eventsPerSecond: EVENTS_PER_SECOND, dropped: 0, waveThroughputRatio: 0.9 },
        ...(await conditions()),
      })}\n`,
    );
  } finally {
    await pool.close();
    await world.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
