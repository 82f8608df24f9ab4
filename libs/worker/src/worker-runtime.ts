import { Job, Worker } from 'bullmq';
import { EnvironmentDto, SHUTDOWN_DEADLINES_MS } from '@app/config';
import { buildCoreServices, buildEngine, createMailstoreClient, openCoreDataSource } from '@app/core';
import {
  bullmqErrorHandler,
  createRedis,
  DependencyWatch,
  isConnectionError,
  JOBS,
  JobPayloads,
  QUEUES,
  probeEvery,
  QueueProducer,
  WORKER_SETTINGS,
} from '@app/queue';
import { singleFlight } from './single-flight';
import { HealthReport, runChecks } from './worker-health';

/** The pool says nothing when PostgreSQL goes: a probe does (cheap, one at a time). */
const POSTGRES_PROBE_INTERVAL_MS = 2000;

export interface WorkerRuntime {
  /**
   * Readiness, as the health listener serves it: PostgreSQL answers `SELECT 1`, the Redis connection is up and answers
   * PING, and the queue consumers run (not once the process is stopping). Each within 2 s.
   */
  health(): Promise<HealthReport>;
  stop(deadlineMs?: number): Promise<void>;
}

/**
 * The worker process: the only one that runs queue processors (style.md). Every job name has a handler or the
 * process refuses to start. Shutdown is ordered and bounded: stop taking jobs, let pumps finish their batch
 * (they see the abort signal between batches), close queues, the mailstore pool, Redis, then the database.
 */
export async function startWorker(
  config: EnvironmentDto,
  log: (msg: Record<string, unknown>) => void,
): Promise<WorkerRuntime> {
  const dataSource = await openCoreDataSource(config, 'worker');
  // One line per outage, not one per retry (the Workers' own connections fail alongside this one).
  const redisWatch = new DependencyWatch('redis', (e) => log({ ...e }));
  const postgresWatch = new DependencyWatch('postgres', (e) => log({ ...e }));
  const postgresProbe = probeEvery(
    postgresWatch,
    'probe',
    () => dataSource.query('SELECT 1'),
    POSTGRES_PROBE_INTERVAL_MS,
  );
  // A round that fails because a dependency is down is the watches' to report (once), not one line per round.
  const roundFailed = (msg: string) => (err: unknown) => {
    if (!isConnectionError(err)) log({ level: 'warn', msg, error: String(err) });
  };
  const redis = createRedis(config.REDIS_URL, 'reopen-worker', redisWatch);
  const producer = new QueueProducer(redis, config.REDIS_PREFIX, {
    onError: bullmqErrorHandler((err) => log({ level: 'error', msg: 'queue error', error: err.message })),
  });
  const client = createMailstoreClient(config);
  const caps = await client.capabilities();
  if (caps.kind !== 'ok')
    log({ level: 'warn', msg: 'mailstore capabilities unavailable at start', outcome: caps.kind });
  const { commands } = buildCoreServices(dataSource, producer, config);
  const engine = buildEngine({ dataSource, producer, redis, client }, commands, config);
  const { reconciler, gates, operations } = engine;
  const abort = new AbortController();

  const handlers: {
    [N in keyof JobPayloads]: (job: Job<JobPayloads[N]>, signal?: AbortSignal) => Promise<string>;
  } = {
    // A pump stops with the process, or when its job's lock is lost (Redis wiped, the process was frozen past the
    // lock): the queue may then give the same slot to another pump, and two would run it.
    [JOBS.wavePump]: (job, signal) =>
      engine.pump(job.data, job.id ?? 'pump', signal ? AbortSignal.any([abort.signal, signal]) : abort.signal).run(),
    [JOBS.waveStart]: async (job) => ((await commands.fireSchedule(job.data.waveId)) ? 'fired' : 'skipped'),
    [JOBS.waveBakeEnd]: async (job) =>
      (await commands.endBake(job.data.waveId, job.data.step)) ? 'resumed' : 'skipped',
    [JOBS.operationRun]: (job) => operations.run(job.data.operationId),
  };
  // Three parameters: BullMQ then gives each job an AbortSignal (aborted by worker.cancelJob).
  const dispatch = async (job: Job, _token?: string, signal?: AbortSignal): Promise<string> => {
    const handler = handlers[job.name as keyof JobPayloads] as
      ((j: Job, signal?: AbortSignal) => Promise<string>) | undefined;
    if (!handler) throw new Error(`no handler for job ${job.name}`);
    const outcome = await handler(job, signal);
    log({ level: 'debug', msg: 'job done', job: job.name, id: job.id, outcome });
    return outcome;
  };
  const common = {
    connection: redis,
    prefix: config.REDIS_PREFIX,
    stalledInterval: WORKER_SETTINGS.stalledIntervalMs,
    lockDuration: WORKER_SETTINGS.lockDurationMs,
    maxStalledCount: WORKER_SETTINGS.maxStalledCount,
  };
  const workers = [
    new Worker(QUEUES.waves, dispatch, { ...common, concurrency: config.WORKER_CONCURRENCY }),
    new Worker(QUEUES.support, dispatch, { ...common, concurrency: config.SUPPORT_CONCURRENCY }),
  ];
  for (const w of workers) {
    w.on('failed', (job, err) =>
      log({ level: 'warn', msg: 'job failed', job: job?.name, id: job?.id, error: err.message }),
    );
    w.on(
      'error',
      bullmqErrorHandler((err) => log({ level: 'error', msg: 'worker error', error: err.message })),
    );
    w.on('lockRenewalFailed', (ids: string[]) => {
      for (const id of ids) w.cancelJob(id, 'job lock lost');
      log({ level: 'warn', msg: 'job locks lost, jobs stopped', ids });
    });
  }

  // One round at a time per process for each timer: a round that waits for PostgreSQL or Redis makes the next ticks
  // skip, never pile up. Gates act within ~1 s of a breaching sample (target: 5 s).
  const reconciling = singleFlight(() => reconciler.run().catch(roundFailed('reconcile failed')));
  reconciling.tick();
  const timer = setInterval(reconciling.tick, config.RECONCILE_INTERVAL_MS);
  const evaluating = singleFlight(() => gates.evaluateAll().catch(roundFailed('gate evaluation failed')));
  const gateTimer = setInterval(evaluating.tick, config.GATE_INTERVAL_MS);

  return {
    health: () =>
      runChecks({
        database: async () => {
          await dataSource.query('SELECT 1');
        },
        // While ioredis reconnects, a command would wait in its offline queue (BullMQ's connections retry forever):
        // the connection's state answers at once.
        redis: async () => {
          if (redis.status !== 'ready') throw new Error(`not connected (${redis.status})`);
          await redis.ping();
        },
        queues: async () => {
          if (abort.signal.aborted) throw new Error('stopping');
          const idle = workers.filter((w) => !w.isRunning()).map((w) => w.name);
          if (idle.length) throw new Error(`not consuming ${idle.join(', ')}`);
        },
      }),
    stop: async (deadlineMs = SHUTDOWN_DEADLINES_MS.worker) => {
      clearInterval(timer);
      clearInterval(gateTimer);
      abort.abort();
      const hard = setTimeout(() => {
        log({ level: 'error', msg: 'shutdown deadline passed, exiting' });
        process.exit(1);
      }, deadlineMs);
      hard.unref();
      await reconciling.settled();
      await evaluating.settled();
      await Promise.all(workers.map((w) => w.close()));
      await producer.close();
      await client.close();
      redis.disconnect();
      await postgresProbe.stop();
      await dataSource.destroy();
      clearTimeout(hard);
    },
  };
}
