import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { BeforeApplicationShutdown, Inject, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { Job, Worker } from 'bullmq';
import type Redis from 'ioredis';
import type { Logger } from 'pino';
import { DataSource } from 'typeorm';
import { EnvironmentDto } from '@app/config';
import { buildInfo, ENGINE, Engine, QUEUE_REDIS, WaveCommandsService } from '@app/core';
import {
  bullmqErrorHandler,
  isConnectionError,
  JOBS,
  JobPayloads,
  QUEUES,
  Traced,
  WORKER_REPORT_MS,
  WORKER_SETTINGS,
  WorkerIdentity,
  WorkerRoster,
} from '@app/queue';
import { inSpan, SpanKind } from '@app/tracing';
import { singleFlight } from './single-flight';
import { HealthReport, runChecks } from './worker-health';
import { WorkerMetrics } from './worker-metrics';
import { WORKER_LOGGER } from './worker.tokens';

type Handlers = { [N in keyof JobPayloads]: (job: Job<JobPayloads[N]>, signal?: AbortSignal) => Promise<string> };

/**
 * The worker's body: the only process that runs queue processors (style.md). Every job name has a handler or the
 * process refuses to start. It starts once the connections are open (CoreModule's bootstrap runs first) and stops
 * before they close: it stops taking jobs, lets pumps finish their batch (they see the abort signal between batches)
 * and waits for the timers' rounds in progress; CoreModule then closes the queues, the mailstore pool, Redis and the
 * database.
 */
@Injectable()
export class WorkerRuntime implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly abort = new AbortController();
  private workers: Worker[] = [];
  private timers: NodeJS.Timeout[] = [];
  private rounds: { settled(): Promise<unknown> }[] = [];
  /** What this process reports to the roster (GET /workers, `reopen preflight`, the ReopenNoWorker alert). */
  private readonly identity: WorkerIdentity;

  constructor(
    private readonly config: EnvironmentDto,
    private readonly dataSource: DataSource,
    @Inject(QUEUE_REDIS) private readonly redis: Redis,
    private readonly commands: WaveCommandsService,
    @Inject(ENGINE) private readonly engine: Engine,
    @Inject(WORKER_LOGGER) private readonly logger: Logger,
    private readonly metrics: WorkerMetrics,
    private readonly roster: WorkerRoster,
  ) {
    this.identity = {
      id: `${hostname()}/${process.pid}/${randomBytes(3).toString('hex')}`,
      ...buildInfo(),
      hostname: hostname(),
      pid: process.pid,
      startedAt: new Date().toISOString(),
      driver: config.MAILSTORE_DRIVER,
    };
  }

  async onApplicationBootstrap(): Promise<void> {
    // Read (and recorded for the preview) before any pump runs; again every CAPABILITIES_REFRESH_MS and after a 429.
    const caps = await this.engine.capabilities.refresh().catch((err: unknown) => {
      this.logger.warn({ error: String(err) }, 'mailstore capabilities not recorded at start');
      return null;
    });
    if (caps && caps.kind !== 'ok')
      this.logger.warn({ outcome: caps.kind }, 'mailstore capabilities unavailable at start');
    this.metrics.readPaceFrom(this.engine.throttle, () => this.redis.status === 'ready');
    this.workers = this.startConsumers();
    this.startTimers();
  }

  /** Before CoreModule closes the connections (its hooks run after this module's). */
  async beforeApplicationShutdown(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    this.abort.abort();
    for (const round of this.rounds) await round.settled();
    await Promise.all(this.workers.map((w) => w.close()));
    await this.engine.notifications.close();
    // Said once the consumers stopped; a Redis that is down then only loses the line (the report ages out in 15 s).
    if (this.redis.status === 'ready') await this.roster.leave(this.identity).catch(() => undefined);
  }

  /**
   * Readiness, as the health listener serves it: PostgreSQL answers `SELECT 1`, the Redis connection is up and answers
   * PING, and the queue consumers run (not once the process is stopping). Each within 2 s.
   */
  health(): Promise<HealthReport> {
    return runChecks({
      database: async () => {
        await this.dataSource.query('SELECT 1');
      },
      // While ioredis reconnects, a command would wait in its offline queue (BullMQ's connections retry forever):
      // the connection's state answers at once.
      redis: async () => {
        if (this.redis.status !== 'ready') throw new Error(`not connected (${this.redis.status})`);
        await this.redis.ping();
      },
      queues: async () => {
        if (this.abort.signal.aborted) throw new Error('stopping');
        const idle = this.workers.filter((w) => !w.isRunning()).map((w) => w.name);
        if (idle.length) throw new Error(`not consuming ${idle.join(', ')}`);
      },
    });
  }

  private handlers(): Handlers {
    const { engine, commands } = this;
    return {
      // A pump stops with the process, or when its job's lock is lost (Redis wiped, the process was frozen past the
      // lock): the queue may then give the same slot to another pump, and two would run it.
      [JOBS.wavePump]: (job, signal) =>
        engine
          .pump(job.data, job.id ?? 'pump', signal ? AbortSignal.any([this.abort.signal, signal]) : this.abort.signal)
          .run(),
      [JOBS.waveStart]: async (job) => ((await commands.fireSchedule(job.data.waveId)) ? 'fired' : 'skipped'),
      [JOBS.waveBakeEnd]: async (job) =>
        (await commands.endBake(job.data.waveId, job.data.step)) ? 'resumed' : 'skipped',
      [JOBS.waveWindow]: (job) => commands.windowEdge(job.data.waveId),
      [JOBS.operationRun]: (job) => engine.operations.run(job.data.operationId),
    };
  }

  private startConsumers(): Worker[] {
    const handlers = this.handlers();
    // Three parameters: BullMQ then gives each job an AbortSignal (aborted by worker.cancelJob).
    const run = async (job: Job, signal?: AbortSignal): Promise<string> => {
      const handler = handlers[job.name as keyof JobPayloads] as
        ((j: Job, signal?: AbortSignal) => Promise<string>) | undefined;
      if (!handler) throw new Error(`no handler for job ${job.name}`);
      const outcome = await handler(job, signal);
      this.metrics.jobDone(job.name, outcome);
      this.logger.debug({ job: job.name, id: job.id, outcome }, 'job done');
      return outcome;
    };
    // With tracing on, each job runs in a CONSUMER span, child of the producer's when the job's data carries its
    // context (a job the reconciler re-added starts a trace of its own); the mailstore calls below are its children.
    const dispatch = (job: Job, _token?: string, signal?: AbortSignal): Promise<string> =>
      inSpan(
        `${job.queueName} process`,
        {
          kind: SpanKind.CONSUMER,
          parent: (job.data as Traced).trace,
          attributes: {
            'messaging.system': 'bullmq',
            'messaging.operation.type': 'process',
            'messaging.destination.name': job.queueName,
            'messaging.message.id': job.id ?? '',
            'reopen.job.name': job.name,
          },
        },
        async (span) => {
          const outcome = await run(job, signal);
          span?.setAttribute('reopen.job.outcome', outcome);
          return outcome;
        },
      );
    const common = {
      connection: this.redis,
      prefix: this.config.REDIS_PREFIX,
      stalledInterval: WORKER_SETTINGS.stalledIntervalMs,
      lockDuration: WORKER_SETTINGS.lockDurationMs,
      maxStalledCount: WORKER_SETTINGS.maxStalledCount,
    };
    const workers = [
      new Worker(QUEUES.waves, dispatch, { ...common, concurrency: this.config.WORKER_CONCURRENCY }),
      new Worker(QUEUES.support, dispatch, { ...common, concurrency: this.config.SUPPORT_CONCURRENCY }),
    ];
    for (const w of workers) {
      w.on('failed', (job, err) => this.logger.warn({ job: job?.name, id: job?.id, error: err.message }, 'job failed'));
      w.on(
        'error',
        bullmqErrorHandler((err) => this.logger.error({ error: err.message }, 'worker error')),
      );
      w.on('lockRenewalFailed', (ids: string[]) => {
        for (const id of ids) w.cancelJob(id, 'job lock lost');
        this.logger.warn({ ids }, 'job locks lost, jobs stopped');
      });
    }
    return workers;
  }

  /**
   * One round at a time per process for each timer: a round that waits for PostgreSQL or Redis makes the next ticks
   * skip, never pile up. Gates act within ~1 s of a breaching sample (target: 5 s).
   */
  private startTimers(): void {
    // A round that fails because a dependency is down is the watches' to report (once), not one line per round.
    const roundFailed = (msg: string) => (err: unknown) => {
      if (!isConnectionError(err)) this.logger.warn({ error: String(err) }, msg);
    };
    const { reconciler, gates, capabilities, notifications } = this.engine;
    const reconciling = singleFlight(() =>
      this.metrics.timeRound('reconcile', () => reconciler.run()).catch(roundFailed('reconcile failed')),
    );
    const evaluating = singleFlight(() =>
      this.metrics.timeRound('gate', () => gates.evaluateAll()).catch(roundFailed('gate evaluation failed')),
    );
    const rereading = singleFlight(async () => {
      const read = await capabilities.refresh().catch(roundFailed('capabilities not recorded'));
      if (read && read.kind !== 'ok') this.logger.warn({ outcome: read.kind }, 'mailstore capabilities unavailable');
    });
    // Notifications (issue 20): batches of due deliveries until none is left, then wait for the next tick.
    const notifying = singleFlight(() =>
      this.metrics
        .timeRound('notify', () => notifications.drain(this.abort.signal))
        .catch(roundFailed('notification delivery failed')),
    );
    // From the event loop, so a frozen process stops counting as alive; a Redis that is down is the watch's to report.
    const reporting = singleFlight(() => this.roster.report(this.identity).catch(roundFailed('worker report failed')));
    this.rounds = [reconciling, evaluating, rereading, notifying, reporting];
    reporting.tick();
    reconciling.tick();
    this.timers = [
      setInterval(reporting.tick, WORKER_REPORT_MS),
      setInterval(reconciling.tick, this.config.RECONCILE_INTERVAL_MS),
      setInterval(evaluating.tick, this.config.GATE_INTERVAL_MS),
      setInterval(rereading.tick, this.config.CAPABILITIES_REFRESH_MS),
      setInterval(notifying.tick, this.config.NOTIFY_POLL_MS),
    ];
  }
}
