import {
  DynamicModule,
  Global,
  Inject,
  Injectable,
  Module,
  OnApplicationBootstrap,
  OnApplicationShutdown,
  Provider,
} from '@nestjs/common';
import { DataSource } from 'typeorm';
import Redis from 'ioredis';
import type { Logger } from 'pino';
import { EnvironmentDto } from '@app/config';
import { openRuntimeDataSource } from '@app/db';
import {
  bullmqErrorHandler,
  createProducerRedis,
  DependencyEvent,
  DependencyWatch,
  openOrSayUnreachable,
  probeEvery,
  QueueProducer,
  watchRedisClient,
} from '@app/queue';
import { ApiSettings } from './api-settings';
import { API_LOGGER, API_SETTINGS, REDIS_CLIENT } from './infra.tokens';

const QUEUE_REDIS = Symbol('QUEUE_REDIS');
const POSTGRES_WATCH = Symbol('POSTGRES_WATCH');

/** The pool opens connections on demand and says nothing when PostgreSQL goes: a probe does (cheap, one at a time). */
const POSTGRES_PROBE_INTERVAL_MS = 2000;

/** Watches PostgreSQL from boot to shutdown, so an outage is logged even when no request comes. */
@Injectable()
class PostgresProbe implements OnApplicationBootstrap {
  private probe: { stop(): Promise<void> } | undefined;

  constructor(
    private readonly dataSource: DataSource,
    @Inject(POSTGRES_WATCH) private readonly watch: DependencyWatch,
  ) {}

  onApplicationBootstrap(): void {
    this.probe = probeEvery(this.watch, 'probe', () => this.dataSource.query('SELECT 1'), POSTGRES_PROBE_INTERVAL_MS);
  }

  /** Called by InfraShutdown before the pool closes (a probe then would log a false outage). */
  async stop(): Promise<void> {
    await this.probe?.stop();
  }
}

/** Closes what the API opened, after the HTTP server stopped taking requests: queues, Redis, then PostgreSQL. */
@Injectable()
class InfraShutdown implements OnApplicationShutdown {
  constructor(
    private readonly dataSource: DataSource,
    private readonly producer: QueueProducer,
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    @Inject(QUEUE_REDIS) private readonly queueRedis: Redis,
    private readonly postgresProbe: PostgresProbe,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await this.postgresProbe.stop();
    await this.producer.close();
    this.queueRedis.disconnect();
    this.redis.disconnect();
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
  }
}

const EXPORTS = [EnvironmentDto, API_SETTINGS, API_LOGGER, DataSource, REDIS_CLIENT, QueueProducer];

/**
 * What the API talks to: PostgreSQL (the one DataSource definition), Redis (rate limits, health) and the queue
 * producer. The API registers producers only; it never runs a processor (style.md).
 */
@Global()
@Module({})
export class InfraModule {
  static forConfig(config: EnvironmentDto, settings: ApiSettings, logger: Logger): DynamicModule {
    // One watch per dependency for the whole process: its clients' outages make one line each, not one per retry.
    const sink = ({ level, msg, ...fields }: DependencyEvent) => logger[level](fields, msg);
    const redisWatch = new DependencyWatch('redis', sink);
    const postgresWatch = new DependencyWatch('postgres', sink);
    const providers: Provider[] = [
      { provide: EnvironmentDto, useValue: config },
      { provide: API_SETTINGS, useValue: settings },
      { provide: API_LOGGER, useValue: logger },
      {
        provide: DataSource,
        // An API process frozen or cut off mid-command must not hold a wave's lock against the other processes
        // for long; an import streams inside its transaction but is never idle in it for seconds.
        useFactory: () =>
          openOrSayUnreachable('postgres', 'DATABASE_URL', () =>
            openRuntimeDataSource({
              url: config.DATABASE_URL,
              applicationName: 'reopen-api',
              idleInTransactionTimeoutMs: 5000,
            }),
          ),
      },
      {
        provide: REDIS_CLIENT,
        // Fail fast: a request must not hang on a Redis outage (the throttler lets it through, health says down).
        useFactory: () =>
          watchRedisClient(
            redisWatch,
            new Redis(config.REDIS_URL, {
              maxRetriesPerRequest: 1,
              commandTimeout: 1000,
              connectionName: 'reopen-api',
            }),
            'reopen-api',
          ),
      },
      // Fail fast too: a command's state is committed in PostgreSQL before its job is added, and the worker's
      // reconciler adds every job from PostgreSQL, so a request answers at once rather than wait for Redis.
      {
        provide: QUEUE_REDIS,
        useFactory: () => createProducerRedis(config.REDIS_URL, 'reopen-api-producer', redisWatch),
      },
      {
        provide: QueueProducer,
        inject: [QUEUE_REDIS],
        useFactory: (redis: Redis) =>
          new QueueProducer(redis, config.REDIS_PREFIX, {
            onError: bullmqErrorHandler((err) => logger.error({ error: err.message }, 'queue error')),
            // One line per refused job, no stack: the outage itself is the watch's line.
            onUnavailable: (err) => logger.warn({ reason: err.reason }, err.message),
          }),
      },
      { provide: POSTGRES_WATCH, useValue: postgresWatch },
      PostgresProbe,
      InfraShutdown,
    ];
    return { module: InfraModule, providers, exports: EXPORTS };
  }

  /** Inert stand-ins, for building the OpenAPI document without any connection. */
  static stub(config: EnvironmentDto, settings: ApiSettings, logger: Logger): DynamicModule {
    const providers: Provider[] = [
      { provide: EnvironmentDto, useValue: config },
      { provide: API_SETTINGS, useValue: settings },
      { provide: API_LOGGER, useValue: logger },
      { provide: DataSource, useValue: {} },
      { provide: REDIS_CLIENT, useValue: {} },
      { provide: QueueProducer, useValue: {} },
    ];
    return { module: InfraModule, providers, exports: EXPORTS };
  }
}
