import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { startProcessMetrics } from '@app/core';
import type { BatchEnd, CallRecord, DeliveryAttemptOutcome, EngineMetrics, Throttle } from '@app/core';
import type { BatchKind } from '@app/domain';

/** A scrape does not wait longer than this for Redis to say what the pace is. */
const PACE_READ_TIMEOUT_MS = 1000;

/** The timers' rounds whose durations are measured. */
export type Round = 'reconcile' | 'gate' | 'notify';

/**
 * The worker's own Prometheus metrics (prom-client), served at GET /metrics on its health listener: what this process
 * did (its mailstore calls' latency and outcomes, batch calls and how its batches ended, batches in flight, Retry-After
 * waits, job outcomes, round durations), the shared pace as Redis holds it at the scrape, and, from the process's
 * registry (METRICS_REGISTRY, made by createProcessRegistry), the build and Node's process metrics. Counters and
 * histograms are this process's own: `sum()` across workers is every call once, and a restart starts from 0. The API's
 * /metrics stays the view of the waves (PostgreSQL's counters).
 */
export class WorkerMetrics implements EngineMetrics {
  private readonly callDuration: Histogram<'source' | 'outcome'>;
  private readonly callItems: Counter<'source' | 'result'>;
  private readonly inFlight: Gauge<'kind'>;
  private readonly sent: Counter<'kind' | 'outcome'>;
  private readonly ended: Counter<'kind' | 'outcome'>;
  private readonly retryAfterWaits: Histogram<'source'>;
  private readonly jobs: Counter<'job' | 'outcome'>;
  private readonly rounds: Histogram<'round' | 'result'>;
  private readonly notifications: Counter<'outcome'>;
  private pace: { throttle: Throttle; ready: () => boolean } | undefined;

  constructor(readonly registry: Registry) {
    const registers = [registry];
    this.callDuration = new Histogram({
      name: 'reopen_mailstore_call_duration_seconds',
      help: 'Mailstore calls this worker made (as logged in mailstore_calls), by lane (wave, operation) and outcome (ok, rate_limited, unavailable, in_progress, retryable:<code>, permanent:<code>)',
      labelNames: ['source', 'outcome'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.callItems = new Counter({
      name: 'reopen_mailstore_call_items_total',
      help: 'Accounts carried by the mailstore calls this worker made (result="sent"), and those the mailstore refused item by item (result="refused")',
      labelNames: ['source', 'result'],
      registers,
    });
    this.inFlight = new Gauge({
      name: 'reopen_worker_batches_in_flight',
      help: 'Batches this worker holds now, between its claim and their end (waiting for pace, a permit, the call or a Retry-After), by lane',
      labelNames: ['kind'],
      registers,
    });
    for (const kind of ['forward', 'rollback'] as const) this.inFlight.set({ kind }, 0);
    this.sent = new Counter({
      name: 'reopen_worker_batches_sent_total',
      help: 'Batch calls this worker made, by lane and outcome (ok, rate_limited, unavailable, in_progress, retryable, permanent)',
      labelNames: ['kind', 'outcome'],
      registers,
    });
    this.ended = new Counter({
      name: 'reopen_worker_batches_settled_total',
      help: 'Batches this worker finished with, by lane and how (applied, refused, nothing_to_send, released, stopped, paused, lost)',
      labelNames: ['kind', 'outcome'],
      registers,
    });
    this.retryAfterWaits = new Histogram({
      name: 'reopen_worker_retry_after_seconds',
      help: 'Waits the mailstore asked for (429, 503, 409 in progress) before the next call, by lane (wave, operation)',
      labelNames: ['source'],
      buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120],
      registers,
    });
    this.jobs = new Counter({
      name: 'reopen_worker_jobs_total',
      help: 'Queue jobs this worker ran, by name and outcome (a pump: drained, stopped, superseded, paused_*)',
      labelNames: ['job', 'outcome'],
      registers,
    });
    this.rounds = new Histogram({
      name: 'reopen_worker_round_duration_seconds',
      help: 'Duration of the reconcile and gate rounds (one at a time each), by result (ok, failed)',
      labelNames: ['round', 'result'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.notifications = new Counter({
      name: 'reopen_notification_deliveries_total',
      help: 'Notification delivery attempts this worker made, by outcome (delivered, failed, rate_limited, unreachable, lost)',
      labelNames: ['outcome'],
      registers,
    });
    const readPace = <T>(read: (t: Throttle) => Promise<T>) => this.readPace(read);
    new Gauge({
      name: 'reopen_worker_pace_factor',
      help: 'The shared pace after 429/503s, as a share of the set rates (1: full; halves per Retry-After episode)',
      registers,
      async collect() {
        const state = await readPace((t) => t.state());
        if (state) this.set(state.factor);
      },
    });
    new Gauge({
      name: 'reopen_worker_pace_blocked_seconds',
      help: 'How long every worker still waits before its next call after a 429/503 (0: not blocked)',
      registers,
      async collect() {
        const ms = await readPace((t) => t.blockedMs());
        if (ms !== undefined) this.set(ms / 1000);
      },
    });
  }

  /** The shared pace to report: the engine's Throttle, read while its Redis connection is `ready`. */
  readPaceFrom(throttle: Throttle, ready: () => boolean): void {
    this.pace = { throttle, ready };
  }

  /**
   * Reads the pace from Redis, or nothing (the gauge keeps its last value): before the engine runs, while Redis is
   * unreachable (the worker's connection would queue the command until it returns) or when it does not answer in time.
   */
  private async readPace<T>(read: (t: Throttle) => Promise<T>): Promise<T | undefined> {
    if (!this.pace?.ready()) return undefined;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), PACE_READ_TIMEOUT_MS);
    });
    try {
      return await Promise.race([read(this.pace.throttle), late]);
    } catch {
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  mailstoreCall(source: 'wave' | 'operation', call: CallRecord, items: number): void {
    this.callDuration.observe({ source, outcome: call.outcome }, call.latencyMs / 1000);
    this.callItems.inc({ source, result: 'sent' }, items);
    if (call.itemErrors) this.callItems.inc({ source, result: 'refused' }, call.itemErrors);
  }

  batchInFlight(kind: BatchKind, delta: 1 | -1): void {
    this.inFlight.inc({ kind }, delta);
  }

  batchSent(kind: BatchKind, outcome: string): void {
    this.sent.inc({ kind, outcome });
  }

  batchEnded(kind: BatchKind, end: BatchEnd): void {
    this.ended.inc({ kind, outcome: end });
  }

  retryAfter(source: 'wave' | 'operation', ms: number): void {
    this.retryAfterWaits.observe({ source }, ms / 1000);
  }

  notificationsAttempted(outcome: DeliveryAttemptOutcome, n: number): void {
    this.notifications.inc({ outcome }, n);
  }

  jobDone(job: string, outcome: string): void {
    this.jobs.inc({ job, outcome });
  }

  /** Runs one round and records how long it took and whether it failed (its error is passed on). */
  async timeRound<T>(round: Round, run: () => Promise<T>): Promise<T> {
    const end = this.rounds.startTimer({ round });
    try {
      const result = await run();
      end({ result: 'ok' });
      return result;
    } catch (err) {
      end({ result: 'failed' });
      throw err;
    }
  }

  /**
   * The exposition. The pace is read from Redis at each scrape: while Redis is unreachable its gauges keep their last
   * values (the outage is the log's line and readiness's answer, not a failed scrape).
   */
  async render(): Promise<{ contentType: string; body: string }> {
    startProcessMetrics(this.registry, 'worker');
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
