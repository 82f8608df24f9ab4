/**
 * The world an engine bench runs in: a fresh database with an imported population (or a copy of one), a Redis prefix,
 * and the services in the bench process as the API would drive them, with a worker process on the same prefix.
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import Redis from 'ioredis';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { loadConfig } from '@app/config';
import { AccountImportService, buildCoreServices, OperationService, WaveCommandsService } from '@app/core';
import { createDataSource, quoteIdent } from '@app/db';
import { createRedis, QueueProducer } from '@app/queue';
import { aWave, DEFAULT_INCIDENT_AT, populationCsv } from '@app/testing';
import { BENCH_SERVER_URL, benchDatabaseUrl, dropDatabase, log, migrateBench } from './bench-utils';
import { SimChild, startSimChild, startWorkerChild, WorkerChild } from './engine-bench-children';
import { Cleanup, POPULATION_SEED, REDIS_URL, type WaveBenchOptions } from './engine-bench-utils';

// ---------------------------------------------------------------------------------------------------------------
// Databases and population

/** A fresh, migrated database holding `count` synthetic accounts (user1…userN, seed 42), analyzed. Not timed. */
export async function populatedDatabase(cleanup: Cleanup, label: string, count: number): Promise<string> {
  const url = benchDatabaseUrl(label);
  cleanup.add(`drop ${url}`, () => dropDatabase(url));
  await migrateBench(url);
  const started = Date.now();
  const ds = createDataSource({ url, poolSize: 1, applicationName: `bench-${label}-import` });
  await ds.initialize();
  try {
    const report = await new AccountImportService(ds, new Date(DEFAULT_INCIDENT_AT)).importCsv(
      Readable.from(populationCsv({ count, seed: POPULATION_SEED })),
      { actor: 'bench' },
    );
    if (report.status !== 'imported' || report.inserted !== count) {
      throw new Error(`population import failed: ${JSON.stringify(report).slice(0, 500)}`);
    }
    // The import happened long before a wave in real life: autovacuum has analyzed the table by then.
    await ds.query('VACUUM ANALYZE accounts');
  } finally {
    await ds.destroy();
  }
  log(`imported ${count} accounts into ${new URL(url).pathname.slice(1)} in ${Date.now() - started} ms (not timed)`);
  return url;
}

/** A copy of a database (CREATE DATABASE … TEMPLATE; nobody may be connected to the source). */
export async function cloneDatabase(cleanup: Cleanup, source: string, label: string): Promise<string> {
  const url = benchDatabaseUrl(label);
  cleanup.add(`drop ${url}`, () => dropDatabase(url));
  const admin = new Client({ connectionString: BENCH_SERVER_URL });
  await admin.connect();
  try {
    const src = new URL(source).pathname.slice(1);
    const dst = new URL(url).pathname.slice(1);
    await admin.query(`CREATE DATABASE ${quoteIdent(dst)} TEMPLATE ${quoteIdent(src)}`);
  } finally {
    await admin.end();
  }
  return url;
}

// ---------------------------------------------------------------------------------------------------------------
// Redis

/** A unique REDIS_PREFIX whose keys are deleted at cleanup. */
export function redisPrefix(cleanup: Cleanup, label: string): string {
  const prefix = `reopen-bench-${label}-${randomBytes(4).toString('hex')}`;
  cleanup.add(`redis keys ${prefix}:*`, async () => {
    const client = new Redis(REDIS_URL, { maxRetriesPerRequest: 3 });
    try {
      let cursor = '0';
      let deleted = 0;
      do {
        const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
        if (keys.length) deleted += await client.del(...keys);
        cursor = next;
      } while (cursor !== '0');
      log(`deleted ${deleted} Redis keys under ${prefix}:`);
    } finally {
      client.disconnect();
    }
  });
  return prefix;
}

// ---------------------------------------------------------------------------------------------------------------
// The service, as the API process would drive it

export interface Services {
  dataSource: DataSource;
  producer: QueueProducer;
  commands: WaveCommandsService;
  operations: OperationService;
}

/** The usual engine setup: a Redis prefix, one worker process on it and the bench's own services. */
export async function workerAndServices(
  cleanup: Cleanup,
  label: string,
  url: string,
  sim: Pick<SimChild, 'baseUrl'>,
  concurrency: number,
  env?: Record<string, string>,
): Promise<Services & { prefix: string; worker: WorkerChild }> {
  const prefix = redisPrefix(cleanup, label);
  const worker = await startWorkerChild(cleanup, 'worker', {
    databaseUrl: url,
    redisPrefix: prefix,
    mailstoreUrl: sim.baseUrl,
    concurrency,
    env,
  });
  return { prefix, worker, ...(await services(cleanup, url, prefix, label)) };
}

export async function services(cleanup: Cleanup, url: string, prefix: string, label: string): Promise<Services> {
  const dataSource = createDataSource({ url, poolSize: 6, applicationName: `bench-${label}` });
  await dataSource.initialize();
  const redis = createRedis(REDIS_URL, `bench-${label}`);
  const producer = new QueueProducer(redis, prefix);
  cleanup.add('close bench services', async () => {
    await producer.close();
    redis.disconnect();
    await dataSource.destroy();
  });
  // The services as the API and the worker build them (libs/core's core-graph), with the worker's default settings.
  const { commands, operations } = buildCoreServices(dataSource, producer, loadConfig({ REDIS_PREFIX: prefix }));
  return { dataSource, producer, commands, operations };
}

/**
 * The usual engine bench's world: a database with `accounts` accounts, the simulator with as many, one worker process
 * (`concurrency` pumps) and the bench's own services, all undone by the cleanup.
 */
export async function engineBenchWorld(
  cleanup: Cleanup,
  label: string,
  options: Pick<WaveBenchOptions, 'accounts' | 'concurrency'>,
): Promise<Services & { url: string; sim: SimChild; prefix: string; worker: WorkerChild }> {
  const url = await populatedDatabase(cleanup, label, options.accounts);
  const sim = await startSimChild(cleanup, options.accounts);
  return { url, sim, ...(await workerAndServices(cleanup, label, url, sim, options.concurrency)) };
}

/** A wave of every remaining account, IMAP and POP3, at full speed (rate 1e6/s) in batches of `batchSize`. */
export function fullSpeedWave(name: string, concurrency: number, batchSize = 500): ReturnType<typeof aWave> {
  return aWave(name)
    .remaining()
    .protocols('imap', 'pop3')
    .rate(1_000_000)
    .batchSize(batchSize)
    .concurrency(concurrency);
}
