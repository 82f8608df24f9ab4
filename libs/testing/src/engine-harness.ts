import { Readable } from 'node:stream';
import { loadConfig, EnvironmentDto } from '@app/config';
import { AccountImportService, WaveCommandsService } from '@app/core';
import { createRedis, QueueProducer } from '@app/queue';
import { startSimulator } from '@app/mailstore-sim';
import type { RunningSimulator, SimulatorOptions } from '@app/mailstore-sim';
import { startWorker, WorkerRuntime } from '@app/worker';
import { populationCsv, PopulationOptions } from '@app/domain';
import { pollUntil } from './poll-until';
import { createTestDatabase, TestDatabase } from './test-database';
import { createTestRedis, TestRedis } from './test-redis';

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
  startWorker(): Promise<WorkerRuntime>;
  importPopulation(options: PopulationOptions): Promise<void>;
  counters(waveId: string): Promise<Record<string, number>>;
  /** Polls the wave's state in PostgreSQL until it is `wanted` (throws after timeoutMs, default 30 s). */
  untilWaveState(waveId: string, wanted: string, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function createEngineHarness(
  label: string,
  simOptions: SimulatorOptions = {},
  envOverrides: Record<string, string> = {},
  /** Another PostgreSQL server (e.g. a private cluster the test restarts); default: the shared test server. */
  serverUrl?: string,
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
  const commands = new WaveCommandsService(db.dataSource, producer);
  const workers: WorkerRuntime[] = [];
  return {
    db,
    redis,
    sim,
    config,
    env,
    commands,
    producer,
    startWorker: async () => {
      const w = await startWorker(config, (e) => {
        if (e.level === 'error') process.stderr.write(`[worker] ${JSON.stringify(e)}\n`);
      });
      workers.push(w);
      return w;
    },
    importPopulation: async (options) => {
      const report = await new AccountImportService(db.dataSource).importCsv(Readable.from(populationCsv(options)), {
        actor: 'test',
      });
      if (report.status !== 'imported')
        throw new Error(`population import failed: ${JSON.stringify(report.errors.slice(0, 3))}`);
    },
    counters: async (waveId) => {
      const rows = await db.dataSource.query<{ name: string; value: string }[]>(
        `SELECT name, value FROM wave_counters WHERE wave_id = $1`,
        [waveId],
      );
      // Zero counters are rows that moved and came back; the truth query has no zero rows.
      return Object.fromEntries(rows.filter((r) => Number(r.value) !== 0).map((r) => [r.name, Number(r.value)]));
    },
    untilWaveState: async (waveId, wanted, timeoutMs = 30_000) => {
      const state = async () =>
        (await db.dataSource.query<{ state: string }[]>(`SELECT state FROM waves WHERE id = $1`, [waveId]))[0]?.state;
      await pollUntil(async () => (await state()) === wanted, { timeoutMs, description: `wave ${wanted}` });
    },
    close: async () => {
      for (const w of workers) await w.stop(10000);
      await producer.close();
      producerRedis.disconnect();
      await sim.close();
      await redis.cleanup();
      await db.drop();
    },
  };
}

/** Anything that runs SQL: a DataSource, or a QueryRunner inside a snapshot transaction. */
export interface Queryable {
  query(sql: string, params?: unknown[]): Promise<unknown>;
}

/**
 * Counters recomputed from wave_members: what the incremental counters must equal (invariant 4). Once a wave's
 * rollback has begun, its enabled members with no rollback_state yet are its pending restorations. Pass a
 * QueryRunner in a REPEATABLE READ transaction to compare both in one snapshot while the wave runs.
 */
export async function countersFromTruth(
  source: TestDatabase | Queryable,
  waveId: string,
): Promise<Record<string, number>> {
  // A QueryRunner also has a dataSource property: tell a TestDatabase by its drop().
  const q: Queryable = 'drop' in source ? source.dataSource : source;
  const rows = (await q.query(
    `SELECT 'total' AS name, count(*) AS value FROM wave_members WHERE wave_id = $1
     UNION ALL SELECT state, count(*) FROM wave_members WHERE wave_id = $1 GROUP BY state
     UNION ALL SELECT state || ':' || reason, count(*) FROM wave_members WHERE wave_id = $1 AND reason IS NOT NULL AND state <> 'cancelled' GROUP BY state, reason
     UNION ALL SELECT 'rollback:' || rollback_state, count(*) FROM wave_members WHERE wave_id = $1 AND rollback_state IS NOT NULL GROUP BY rollback_state
     UNION ALL SELECT 'rollback:pending', count(*) FROM wave_members m JOIN waves w ON w.id = m.wave_id
                WHERE m.wave_id = $1 AND w.rollback_started_at IS NOT NULL AND m.state = 'enabled' AND m.rollback_state IS NULL
     UNION ALL SELECT 'rollback:total', count(*) FROM wave_members m JOIN waves w ON w.id = m.wave_id
                WHERE m.wave_id = $1 AND (m.rollback_state IS NOT NULL OR (w.rollback_started_at IS NOT NULL AND m.state = 'enabled'))
     UNION ALL SELECT 'rollback:failed:' || rollback_reason, count(*) FROM wave_members WHERE wave_id = $1 AND rollback_state = 'failed' GROUP BY rollback_reason`,
    [waveId],
  )) as { name: string; value: string }[];
  return Object.fromEntries(rows.filter((r) => Number(r.value) > 0).map((r) => [r.name, Number(r.value)]));
}
