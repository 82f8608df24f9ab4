import Redis from 'ioredis';
import { pollUntil, PrivateRedis } from '@app/testing';
import { DependencyEvent, DependencyWatch } from './dependency-watch';
import { jobIds, QUEUES } from './queue.contract';
import { createProducerRedis, createRedis, QueueProducer, QueueUnavailableError } from './queue.producer';

const OP = '5f0c8a4e-6f7b-4c1e-9a57-1d2b3c4d5e6f';
const PUMP = { waveId: '0b6a2c1d-3e4f-4a5b-8c6d-7e8f9a0b1c2d', kind: 'forward' as const, generation: 2, slot: 0 };

/** What a call did within `ms`: its value, its error, or 'pending' (a hang is an answer here, not a test timeout). */
async function within<T>(ms: number, call: Promise<T>): Promise<{ value?: T; error?: unknown } | 'pending'> {
  let timer: NodeJS.Timeout | undefined;
  const pending = new Promise<'pending'>((resolve) => (timer = setTimeout(() => resolve('pending'), ms)));
  try {
    return await Promise.race([
      call.then(
        (value) => ({ value }),
        (error: unknown) => ({ error }),
      ),
      pending,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The API's producer (createProducerRedis) against a private redis-server that is down, up, killed and frozen: every
 * add settles within a few seconds, as a job added or a QueueUnavailableError reported once; never a wait for Redis.
 * The worker's connection (createRedis) keeps waiting instead.
 */
describe('QueueProducer on a fail-fast connection (real redis-server, stopped and frozen)', () => {
  let redis: PrivateRedis;
  let client: Redis;
  let producer: QueueProducer;
  const refused: QueueUnavailableError[] = [];
  const outage: DependencyEvent[] = [];
  const prefix = `int-producer-${process.pid}`;

  beforeAll(async () => {
    redis = await PrivateRedis.reserve(); // nothing listens yet
    const watch = new DependencyWatch('redis', (e) => outage.push(e));
    client = createProducerRedis(redis.url, 'int-producer', watch);
    producer = new QueueProducer(client, prefix, {
      onError: () => undefined, // the Queues re-emit the client's connection errors: the watch reports those
      onUnavailable: (err) => refused.push(err),
    });
  });
  afterAll(async () => {
    redis?.thaw();
    await producer?.close();
    client?.disconnect();
    await redis?.stop();
  });

  it('refuses at once while Redis has been down since the connection was made', async () => {
    const added = await within(5000, producer.addOperation(OP));
    expect(added).not.toBe('pending');
    const { error } = added as { error: unknown };
    expect(error).toBeInstanceOf(QueueUnavailableError);
    expect((error as Error).message).toMatch(
      new RegExp(
        `^job operation\\.run ${jobIds.operationRun(OP)} not queued: redis unreachable \\(connection \\w+\\)$`,
      ),
    );
    expect(refused).toEqual([error]);
    // A read for the metrics is refused the same way, and is not a refused job.
    const counts = await within(5000, producer.jobCounts(QUEUES.support, 'waiting'));
    expect((counts as { error: unknown }).error).toBeInstanceOf(QueueUnavailableError);
    expect(refused).toHaveLength(1);
    // The outage is the watch's one line (the client's 'error' events), however many adds were refused.
    await pollUntil(() => outage.length > 0, { timeoutMs: 5000, description: 'the outage line' });
    expect(outage.map((e) => e.state)).toEqual(['unreachable']);
  });

  it('adds jobs once Redis is up, without a new producer', async () => {
    await redis.start();
    await pollUntil(() => client.status === 'ready', { timeoutMs: 10_000, description: 'producer connection ready' });
    await producer.addOperation(OP);
    const job = await producer.queue(QUEUES.support).getJob(jobIds.operationRun(OP));
    expect(job?.data).toEqual({ operationId: OP });
    expect(await producer.jobCounts(QUEUES.support, 'prioritized')).toEqual({ prioritized: 1 });
    expect(outage.map((e) => e.state)).toEqual(['unreachable', 'recovered']);
  });

  it('refuses at once when Redis goes away under a connected producer, and adds again when it is back', async () => {
    await redis.stop();
    const added = await within(5000, producer.addPump(PUMP));
    expect((added as { error: unknown }).error).toBeInstanceOf(QueueUnavailableError);
    expect(refused).toHaveLength(2);
    expect(refused[1].what).toBe(`job wave.pump ${jobIds.wavePump(PUMP)} not queued`);

    await redis.start(); // empty: no persistence
    await pollUntil(() => client.status === 'ready', { timeoutMs: 10_000, description: 'producer connection ready' });
    await producer.addPump(PUMP);
    expect(await producer.queue(QUEUES.waves).getJob(jobIds.wavePump(PUMP))).toBeDefined();
  });

  it('gives up after its command timeout when Redis keeps the connection but answers nothing', async () => {
    redis.freeze();
    const next = { ...PUMP, slot: 1 };
    const added = await within(5000, producer.addPump(next));
    expect(added).not.toBe('pending');
    const { error } = added as { error: unknown };
    expect(error).toBeInstanceOf(QueueUnavailableError);
    expect((error as QueueUnavailableError).reason).toBe('Command timed out');
    expect(refused).toHaveLength(3);
    redis.thaw();
    await producer.addPump(next); // an add with the same id: a no-op if the frozen one went through after all
    expect(await producer.queue(QUEUES.waves).getJob(jobIds.wavePump(next))).toBeDefined();
  });

  it("the worker's connection (createRedis) waits for Redis instead, and adds when it is back", async () => {
    const workerClient = createRedis(redis.url, 'int-worker-side');
    workerClient.on('error', () => undefined); // the watch's business in the worker; nothing to report here
    const workerProducer = new QueueProducer(workerClient, prefix, { onError: () => undefined });
    try {
      await pollUntil(() => workerClient.status === 'ready', { timeoutMs: 10_000, description: 'worker side ready' });
      await redis.stop();
      const waiting = producer.addOperation(OP).catch(() => undefined); // the fail-fast side: refused
      const add = workerProducer.addOperation(OP);
      expect(await within(3000, add)).toBe('pending');
      await waiting;
      await redis.start();
      expect(await within(10_000, add)).toEqual({ value: undefined });
      expect(await workerProducer.queue(QUEUES.support).getJob(jobIds.operationRun(OP))).toBeDefined();
    } finally {
      await workerProducer.close();
      workerClient.disconnect();
    }
  });
});
