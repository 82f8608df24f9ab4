import { Queue } from 'bullmq';
import Redis from 'ioredis';
import { DependencyWatch, watchRedisClient } from './dependency-watch';
import { JOB_OPTIONS, JOB_QUEUE, JobName, JobPayloads, jobIds, QUEUES } from './queue.contract';

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

/**
 * The only way jobs are added. Each method computes the job id, so adding twice is a no-op while the job
 * exists (BullMQ ignores an add with an existing id).
 */
export class QueueProducer {
  private readonly queues: Record<string, Queue>;

  /** `onError`: a Queue re-emits its connection's errors and prints each with a stack when nobody listens. */
  constructor(
    connection: Redis,
    readonly prefix: string,
    onError?: (err: Error) => void,
  ) {
    this.queues = Object.fromEntries(
      Object.values(QUEUES).map((name) => {
        const queue = new Queue(name, { connection, prefix });
        if (onError) queue.on('error', onError);
        return [name, queue];
      }),
    );
  }

  queue(name: string): Queue {
    const q = this.queues[name];
    if (!q) throw new Error(`unknown queue ${name}`);
    return q;
  }

  private async add<N extends JobName>(name: N, payload: JobPayloads[N], jobId: string, delayMs = 0): Promise<void> {
    await this.queue(JOB_QUEUE[name]).add(name, payload, { ...JOB_OPTIONS[name], jobId, delay: Math.max(0, delayMs) });
  }

  async addPump(job: JobPayloads['wave.pump']): Promise<void> {
    await this.add('wave.pump', job, jobIds.wavePump(job));
  }

  async addStart(waveId: string, version: number, dueAt: Date): Promise<void> {
    await this.add(
      'wave.start',
      { waveId, dueAt: dueAt.toISOString() },
      jobIds.waveStart(waveId, version),
      dueAt.getTime() - Date.now(),
    );
  }

  async addBakeEnd(waveId: string, step: number, at: Date): Promise<void> {
    await this.add('wave.bake-end', { waveId, step }, jobIds.waveBakeEnd(waveId, step), at.getTime() - Date.now());
  }

  async addOperation(operationId: string): Promise<void> {
    await this.queue(QUEUES.support).add(
      'operation.run',
      { operationId },
      { ...JOB_OPTIONS['operation.run'], jobId: jobIds.operationRun(operationId), priority: 1 },
    );
  }

  async close(): Promise<void> {
    await Promise.all(Object.values(this.queues).map((q) => q.close()));
  }
}
