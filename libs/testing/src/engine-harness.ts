import { Readable } from 'node:stream';
import { loadConfig, EnvironmentDto } from '@app/config';
import { buildCoreServices, OperationService, OperationServiceOptions, WaveCommandsService } from '@app/core';
import { createRedis, QueueProducer } from '@app/queue';
import { startSimulator } from '@app/mailstore-sim';
import type { RunningSimulator, SimulatorOptions } from '@app/mailstore-sim';
import type { INestApplicationContext } from '@nestjs/common';
import { createLogger } from '@app/logging';
import { createWorkerContext } from '@app/worker';
import { Clock, populationCsv, PopulationOptions } from '@app/domain';
import { PollOptions } from './poll-until';
import { createTestDatabase, TestDatabase } from './test-database';
import { createTestRedis, TestRedis } from './test-redis';
import { Counters, readCounters } from './wave-counters';
import { AtRestOptions, untilCounters, untilWaveState, waitAtRest, waveStatus, WaveStatus } from './wave-waits';

/**
 * Everything a wave needs, real and local: a fresh database, a Redis prefix, the simulator over HTTP, and
 * in-process workers (or child processes via `env` for kill tests). One per test file.
 */
export interface EngineHarness {
  db: TestDatabase;
  redis: TestRedis;
  sim: RunningSimulator;
  config: EnvironmentDto;
  /** Environment for child processes (worker, api) pointing at this harness. */
  env: Record<string, string>;
  commands: WaveCommandsService;
  producer: QueueProducer;
  /** A worker in this process, as apps/worker builds it (a Nest application context); closed by close(). */
  startWorker(): Promise<INestApplicationContext>;
  /** Stops every in-process worker (a graceful shutdown: each says it left the roster). */
  stopWorkers(): Promise<void>;
  importPopulation(options: PopulationOptions): Promise<void>;
  /** A support service on this harness (the incident of its config). */
  support(options?: OperationServiceOptions): OperationService;
  /** The wave's counters as the engine keeps them (readCounters). */
  counters(waveId: string): Promise<Counters>;
  /** The wave's state and status_reason in PostgreSQL. */
  waveStatus(waveId: string): Promise<WaveStatus>;
  /** Polls the wave's state in PostgreSQL until it is `wanted` or one of them (default deadline 30 s). */
  untilWaveState(waveId: string, wanted: string | readonly string[], options?: PollOptions): Promise<void>;
  /** Polls the wave's counters until `done` says so. */
  untilCounters(waveId: string, done: (c: Counters) => boolean, options?: PollOptions): Promise<void>;
  /** Until nothing of the wave is claimed or in flight, for a while (see waitAtRest); false if never. */
  waitAtRest(waveId: string, options?: AtRestOptions): Promise<boolean>;
  /** The simulator's batch calls of one wave (their idempotency keys name it). */
  batchCalls(waveId: string): ReturnType<RunningSimulator['calls']>;
  close(): Promise<void>;
}

export async function createEngineHarness(
  label: string,
  simOptions: SimulatorOptions = {},
  envOverrides: Record<string, string> = {},
  /** Another PostgreSQL server (e.g. a private cluster the test restarts); default: the shared test server. */
  serverUrl?: string,
  /** The clock time windows are judged on, for the harness's commands and its in-process workers (default: now). */
  clock?: Clock,
): Promise<EngineHarness> {
  const db = await createTestDatabase(label, serverUrl);
  // Without Redis the database's pools would keep Jest from exiting: drop it, then fail with Redis's line.
  const redis = await createTestRedis(label).catch(async (err: unknown) => {
    await db.drop();
    throw err;
  });
  const sim = await startSimulator({ port: 0, rateLimits: 'none', ...simOptions });
  const env = {
    DATABASE_URL: db.url,
    REDIS_URL: redis.url,
    REDIS_PREFIX: redis.prefix,
    MAILSTORE_URL: sim.baseUrl,
    MAILSTORE_TOKEN: 'sim-token',
    RECONCILE_INTERVAL_MS: '1000',
    MAILSTORE_TIMEOUT_MS: '3000',
    WORKER_CONCURRENCY: '16',
    LOG_LEVEL: 'warn',
    ...envOverrides,
  };
  const config = loadConfig(env);
  // The producer talks to the Redis the workers use (a test may point them at a private one).
  const producerRedis = createRedis(config.REDIS_URL, `test-${label}`);
  const producer = new QueueProducer(producerRedis, redis.prefix);
  // The services as the API and the worker build them (libs/core's core-graph), on this harness's own connections.
  const services = buildCoreServices(db.dataSource, producer, config, clock);
  const workers: INestApplicationContext[] = [];
  return {
    db,
    redis,
    sim,
    config,
    env,
    commands: services.commands,
    producer,
    startWorker: async () => {
      // Its errors only, on stderr (Jest does not capture it): the tests' own output stays readable.
      const w = await createWorkerContext(config, createLogger('reopen-worker', 'error', process.stderr), { clock });
      workers.push(w);
      return w;
    },
    stopWorkers: async () => {
      for (const w of workers.splice(0)) await closeWithin(w, 10_000);
    },
    importPopulation: async (options) => {
      const report = await services.imports.importCsv(Readable.from(populationCsv(options)), { actor: 'test' });
      if (report.status !== 'imported')
        throw new Error(`population import failed: ${JSON.stringify(report.errors.slice(0, 3))}`);
    },
    // As configured (services.operations), or with the test's own options (a short override TTL).
    support: (options) =>
      options
        ? new OperationService(db.dataSource, producer, new Date(config.INCIDENT_AT), options)
        : services.operations,
    counters: (waveId) => readCounters(db.dataSource, waveId),
    waveStatus: (waveId) => waveStatus(db.dataSource, waveId),
    untilWaveState: (waveId, wanted, options) => untilWaveState(db.dataSource, waveId, wanted, options),
    untilCounters: (waveId, done, options) => untilCounters(db.dataSource, waveId, done, options),
    waitAtRest: (waveId, options) => waitAtRest(db.dataSource, waveId, options),
    batchCalls: (waveId) => sim.calls().filter((c) => c.endpoint === 'batch' && c.idempotencyKey?.includes(waveId)),
    close: async () => {
      for (const w of workers) await closeWithin(w, 10_000);
      await producer.close();
      producerRedis.disconnect();
      await sim.close();
      await redis.cleanup();
      await db.drop();
    },
  };
}

/** Closes an in-process worker, or fails the test after `ms` (its process is Jest's: never process.exit). */
async function closeWithin(app: INestApplicationContext, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`an in-process worker did not stop within ${ms} ms`)), ms);
  });
  try {
    await Promise.race([app.close(), late]);
  } finally {
    clearTimeout(timer);
  }
}
