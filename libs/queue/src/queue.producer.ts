import { JobsOptions, JobType, Queue } from 'bullmq';
import Redis from 'ioredis';
import { currentTraceCarrier, inSpan, SpanKind } from '@app/tracing';
import { DependencyWatch, describeConnectionError, isConnectionError, watchRedisClient } from './dependency-watch';
import { JOB_OPTIONS, JOB_QUEUE, JobName, JobPayloads, jobIds, QUEUES, Traced } from './queue.contract';

export interface QueueConnection {
  redisUrl: string;
  prefix: string;
}

/**
 * Builds the Redis connection BullMQ needs (maxRetriesPerRequest must be null for workers, and commands wait in the
 * offline queue for the reconnection, as BullMQ's "going to production" guide recommends for workers). ioredis's
 * default retryStrategy reconnects forever, at most 2 s apart, so a Redis that returns is used again within ~2 s.
 * Pass the dependency watch: an ioredis client without an 'error' listener prints a stack per reconnect attempt.
 */
export function createRedis(url: string, name: string, watch?: DependencyWatch): Redis {
  const client = new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true, connectionName: name });
  return watch ? watchRedisClient(watch, client, name) : client;
}

/** A healthy Redis adds a job in milliseconds: past this, a fail-fast producer gives up (a frozen or cut-off Redis). */
export const PRODUCER_COMMAND_TIMEOUT_MS = 2000;

/**
 * The connection of a producer that answers HTTP requests (the API): it fails fast instead of waiting for Redis, as
 * BullMQ's "Failing fast when Redis is down" pattern advises for a Queue used in a request handler. No offline queue
 * (a command while disconnected is refused at once), one retry for a command in flight when the connection drops, and
 * a command timeout for a Redis that keeps the connection but does not answer. It reconnects forever, as createRedis.
 * Never for a Worker (BullMQ requires maxRetriesPerRequest null there): the worker uses createRedis.
 */
export function createProducerRedis(url: string, name: string, watch?: DependencyWatch): Redis {
  const client = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: PRODUCER_COMMAND_TIMEOUT_MS,
    enableReadyCheck: true,
    connectionName: name,
  });
  return watch ? watchRedisClient(watch, client, name) : client;
}

/**
 * A fail-fast producer could not reach Redis, so the job was not added (after a timeout: may not have been). Jobs only
 * nudge the worker (PostgreSQL holds the state and the reconciler re-adds every job from it), so a caller whose change
 * is committed may carry on without it. The message is one line; the client's error stays as the cause.
 */
export class QueueUnavailableError extends Error {
  constructor(
    /** What was not done: `job wave.pump pump-forward-…-g2-s0 not queued`. */
    readonly what: string,
    /** Why, in one line: `connection reconnecting`, `Command timed out`. */
    readonly reason: string,
    cause?: unknown,
  ) {
    super(`${what}: redis unreachable (${reason})`, { cause });
    this.name = 'QueueUnavailableError';
  }
}

export interface QueueProducerOptions {
  /** A Queue re-emits its connection's errors and prints each with a stack when nobody listens. */
  onError?: (err: Error) => void;
  /** A fail-fast producer refused an add (Redis unreachable): called once per refusal, before it throws. */
  onUnavailable?: (err: QueueUnavailableError) => void;
}

/**
 * The only way jobs are added. Each method computes the job id, so adding twice is a no-op while the job
 * exists (BullMQ ignores an add with an existing id).
 *
 * On a fail-fast connection (createProducerRedis) every add either completes within about
 * PRODUCER_COMMAND_TIMEOUT_MS or throws QueueUnavailableError; on a worker's connection (createRedis) it waits for
 * Redis however long it takes.
 */
export class QueueProducer {
  private readonly queues: Record<string, Queue>;
  private readonly failFast: boolean;

  constructor(
    private readonly connection: Redis,
    readonly prefix: string,
    private readonly options: QueueProducerOptions = {},
  ) {
    this.failFast = connection.options.enableOfflineQueue === false;
    this.queues = Object.fromEntries(
      Object.values(QUEUES).map((name) => {
        const queue = new Queue(name, { connection, prefix });
        if (options.onError) queue.on('error', options.onError);
        return [name, queue];
      }),
    );
  }

  queue(name: string): Queue {
    const q = this.queues[name];
    if (!q) throw new Error(`unknown queue ${name}`);
    return q;
  }

  /**
   * Job counts by state, for the metrics: on a fail-fast connection, QueueUnavailableError at once while Redis is
   * unreachable (not reported to onUnavailable: a scrape is not a lost job).
   */
  async jobCounts(name: string, ...states: JobType[]): Promise<Record<string, number>> {
    const what = `job counts of ${name} not read`;
    this.refuseWhileDisconnected(what);
    try {
      return await this.queue(name).getJobCounts(...states);
    } catch (err) {
      throw this.failFast && isConnectionError(err)
        ? new QueueUnavailableError(what, describeConnectionError(err), err)
        : err;
    }
  }

  private async add<N extends JobName>(
    name: N,
    payload: JobPayloads[N],
    opts: JobsOptions & { jobId: string },
  ): Promise<void> {
    const what = `job ${name} ${opts.jobId} not queued`;
    const queue = JOB_QUEUE[name];
    try {
      this.refuseWhileDisconnected(what);
      // With tracing on, a PRODUCER span whose context travels in the job's data (`trace`): the worker's span for the
      // job is its child. Off: the payload as it was.
      await inSpan(
        `${queue} publish`,
        {
          kind: SpanKind.PRODUCER,
          attributes: {
            'messaging.system': 'bullmq',
            'messaging.operation.type': 'send',
            'messaging.destination.name': queue,
            'messaging.message.id': opts.jobId,
            'reopen.job.name': name,
          },
        },
        async (span) => {
          const data: JobPayloads[N] & Traced = span ? { ...payload, trace: currentTraceCarrier() } : payload;
          await this.queue(queue).add(name, data, { ...JOB_OPTIONS[name], ...opts });
        },
      );
    } catch (err) {
      const unavailable =
        err instanceof QueueUnavailableError
          ? err
          : this.failFast && isConnectionError(err)
            ? new QueueUnavailableError(what, describeConnectionError(err), err)
            : undefined;
      if (!unavailable) throw err;
      this.options.onUnavailable?.(unavailable);
      throw unavailable;
    }
  }

  /**
   * A Queue waits for its connection's first 'ready' before any command, however long Redis stays away (the offline
   * queue does not matter there): a fail-fast producer refuses instead while the connection is not ready.
   */
  private refuseWhileDisconnected(what: string): void {
    if (this.failFast && this.connection.status !== 'ready') {
      throw new QueueUnavailableError(what, `connection ${this.connection.status}`);
    }
  }

  async addPump(job: JobPayloads['wave.pump']): Promise<void> {
    await this.add('wave.pump', job, { jobId: jobIds.wavePump(job) });
  }

  async addStart(waveId: string, version: number, dueAt: Date): Promise<void> {
    await this.add(
      'wave.start',
      { waveId, dueAt: dueAt.toISOString() },
      { jobId: jobIds.waveStart(waveId, version), delay: Math.max(0, dueAt.getTime() - Date.now()) },
    );
  }

  async addBakeEnd(waveId: string, step: number, at: Date): Promise<void> {
    await this.add(
      'wave.bake-end',
      { waveId, step },
      { jobId: jobIds.waveBakeEnd(waveId, step), delay: Math.max(0, at.getTime() - Date.now()) },
    );
  }

  /** A time window edge of a wave, `at` on the caller's clock (`now`, the same clock: the engine's seam). */
  async addWindowEdge(waveId: string, at: Date, now: Date): Promise<void> {
    await this.add(
      'wave.window',
      { waveId, at: at.toISOString() },
      { jobId: jobIds.waveWindow(waveId, at), delay: Math.max(0, at.getTime() - now.getTime()) },
    );
  }

  async addOperation(operationId: string): Promise<void> {
    await this.add('operation.run', { operationId }, { jobId: jobIds.operationRun(operationId), priority: 1 });
  }

  async close(): Promise<void> {
    await Promise.all(Object.values(this.queues).map((q) => q.close()));
  }
}
