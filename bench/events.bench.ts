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
 * failures), each with its own session. The sender is open-loop (events fall due at the rate whatever the answers
 * do) over BENCH_CONNECTIONS (32) keep-alive connections, one request at a time on each: bounded concurrency, as a
 * mail server's HTTP client. It stands in for a mail server on another machine, and on this one it shares the
 * service's 2 cores, so it costs what a real client could at least (event-sender.ts: each request one string written
 * on a node:net socket, answers read into one buffer, a 202's body compared with the one for a counted event; no HTTP
 * library). Its CPU per event: senderCpuMsPerEvent (the loaded window, from the bench's CPU meter),
 * senderCpuMsPerEventAtFixedRate (BENCH_CAPACITY_ONLY); with undici's dispatch it was about twice that.
 *
 * dropped: events the service did not count, each by its own answer, as the exporter sees it: no answer within 2 s
 * of falling due (Dovecot gives up, closes the connection and loses the event; one that waited that long for a
 * connection is not sent), a connection error, any other status, or a 202 whose body says the event was dropped
 * (overflow, stale…). Every event due is accounted once (the sender checks). The database's login_stream.received
 * must grow by the accepted count (checked, `countedInDatabase`).
 * waveThroughputRatio: the wave's members/s in the loaded window ÷ the mean of the two quiet ones (same run).
 * p99Ms: client side, per request, from the moment its event fell due to the end of its answer (includes waiting for
 * a free connection, as in the exporter's own queue, and for the sender's 2 ms tick).
 * capacityNoWavePerSecond: before the wave, the same connections posting as fast as the answers come (closed loop,
 * 5 s): what the API ingests at most on this machine at that moment. apiCpuMsPerEvent: the API's CPU in the loaded window per event
 * it counted.
 * Targets: eventsPerSecond 5,000 sustained with 0 dropped, waveThroughputRatio ≥ 0.9. Last line: JSON.
 */
import 'reflect-metadata';
import { loadavg } from 'node:os';
import { populationLogin } from '@app/testing';
import { conditions, log } from './bench-utils';
import { FULL_SPEED, rateOption, round1, sleep, startApiWaveWorld } from './api-wave-world';
import { cpuTicks, percentile, TICK_MS } from './engine-bench-utils';
import { EventSender } from './event-sender';

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

/** An event's start and end times as ISO-8601 text, kept for the last millisecond asked (events share it). */
const times = { at: NaN, start: '', end: '' };
function timesAt(at: number): { start: string; end: string } {
  if (times.at !== at) {
    times.at = at;
    times.start = new Date(at - 3).toISOString();
    times.end = new Date(at).toISOString();
  }
  return times;
}

/**
 * One event as Dovecot 2.3's exporter writes it (`format = json`, `format_args = time-rfc3339`), at `at` (ms): the
 * bytes JSON.stringify writes for that object, from a template (its values are ASCII and need no escaping), without
 * building the object.
 */
function dovecotEvent(n: number, at: number): string {
  const ok = n % 33 !== 7; // ~3 % failures: users mistyping (a failure has no `success` field)
  const imap = n % 3 !== 0;
  const { start, end } = timesAt(at);
  return (
    `{"event":"auth_request_finished","hostname":"mx1","start_time":"${start}","end_time":"${end}",` +
    `"categories":["auth"],"fields":{"user":"${populationLogin(1 + ((n * 7919) % ACCOUNTS))}",` +
    `"service":"${imap ? 'imap' : 'pop3'}","local_ip":"192.0.2.10","local_port":${imap ? 993 : 995},` +
    `"remote_ip":"198.51.${(n >> 8) & 255}.${n & 255}","remote_port":${40000 + (n % 20000)},` +
    `"session":"bench${n.toString(36)}","mechanism":"PLAIN","transport":"trusted",` +
    `${ok ? '"success":"yes"' : '"error":"Password mismatch"'}}}`
  );
}

/**
 * The API's ingest capacity at that moment: every connection posting one event after another as fast as the answers
 * come (closed loop), for `seconds`. Accepted events per second, and the API process's CPU per accepted event (ms;
 * /proc ticks of 10 ms, so give it a few seconds).
 */
async function capacity(
  sender: EventSender,
  seconds: number,
  firstN: number,
  apiPid: number,
): Promise<{ perSecond: number; apiCpuMsPerEvent: number }> {
  const ticks0 = cpuTicks(apiPid);
  const accepted = await sender.closedLoop(seconds, firstN);
  const apiCpuMs = (cpuTicks(apiPid) - ticks0) * TICK_MS;
  return {
    perSecond: accepted / seconds,
    apiCpuMsPerEvent: Math.round((apiCpuMs / Math.max(1, accepted)) * 1000) / 1000,
  };
}

async function main(): Promise<void> {
  const world = await startApiWaveWorld('events', ACCOUNTS, { signals: true });
  const path = `/api/v1/login-events?key=${encodeURIComponent(world.secrets.signals)}`;
  let sender: EventSender | undefined;
  try {
    sender = new EventSender(world.origin, path, CONNECTIONS, dovecotEvent);
    await sender.open();
    const received = async () =>
      Number((await world.ds.query<{ received: string }[]>(`SELECT received FROM login_stream`))[0]?.received ?? 0);
    // A warm-up with no wave (the API's code compiled, connections open), then the capacity with no wave.
    await capacity(sender, WARMUP_SECONDS, 10_000_000, world.pids.api);
    const noWave = await capacity(sender, CAPACITY_SECONDS, 20_000_000, world.pids.api); // sessions apart
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
      const fixed = await sender.openLoop(FIXED_RATE, CAPACITY_SECONDS, TIMEOUT_MS);
      const fixedCpuMs = (cpuTicks(world.pids.api) - ticks0) * TICK_MS;
      const own = process.cpuUsage(own0);
      const senderCpuMs = (own.user + own.system) / 1000;
      log(
        `sender at ${FIXED_RATE}/s: ${Math.round(own.user / 1000)} ms user, ${Math.round(own.system / 1000)} ms system`,
      );
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
    const sending = sender.openLoop(EVENTS_PER_SECOND, SECONDS, TIMEOUT_MS);
    const loaded = await world.window(waveId, 'loaded', SECONDS);
    const result = await sending;
    if (loaded.seconds < SECONDS - 2)
      throw new Error('the wave finished during the loaded window: raise BENCH_ACCOUNTS');
    const quietAfter = await world.window(waveId, 'quiet after', QUIET_SECONDS);
    // The ingest flushes every 250 ms, but on a loaded PostgreSQL its flushes fall behind (one run here had 95,018 of
    // 150,000 in login_stream.received at this point, all of them 5 s later): read until the count stops growing.
    let counted = (await received()) - receivedBefore;
    for (let waited = 0; counted < result.accepted && waited < 60; waited += 2) {
      await sleep(2000);
      const now = (await received()) - receivedBefore;
      if (now === counted) break;
      counted = now;
    }
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
        sent: result.sent,
        accepted: result.accepted,
        countedInDatabase: counted,
        dropped,
        droppedBy: result.dropped,
        capacityNoWavePerSecond: Math.round(capacityNoWave),
        apiCpuMsPerEventNoWave: noWave.apiCpuMsPerEvent,
        apiCpuMsPerEvent: round1((loaded.cores.api * loaded.seconds * 1000) / Math.max(1, counted)),
        // This process in the loaded window (the sender, and the world's 1 s samples) per event posted.
        senderCpuMsPerEvent: Number(
          ((loaded.cores.bench * loaded.seconds * 1000) / Math.max(1, result.sent)).toFixed(3),
        ),
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
    sender?.close();
    await world.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
