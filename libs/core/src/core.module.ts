import {
  DynamicModule,
  Global,
  Inject,
  Injectable,
  Module,
  OnApplicationBootstrap,
  OnApplicationShutdown,
  Optional,
  Provider,
} from '@nestjs/common';
import type Redis from 'ioredis';
import type { Logger } from 'pino';
import { DataSource } from 'typeorm';
import { EnvironmentDto } from '@app/config';
import type { Clock } from '@app/domain';
import { MAILSTORE, type Mailstore, type Probe } from '@app/mailstore';
import {
  bullmqErrorHandler,
  createProducerRedis,
  createRedis,
  DependencyEvent,
  DependencyWatch,
  probeEvery,
  QueueProducer,
  WorkerRoster,
} from '@app/queue';
import {
  buildCoreServices,
  buildEngine,
  CoreRole,
  CoreServices,
  createMailstore,
  openCoreDataSource,
} from './core-graph';
import { EngineMetrics } from './engine/engine-metrics';
import { createProcessRegistry, METRICS_REGISTRY } from './metrics';
import type { Registry } from 'prom-client';
import { AccountImportService } from './accounts';
import { AuditQueryService } from './audit';
import { ApiKeyService } from './auth';
import { LoginIngestService } from './logins';
import { ProgressService } from './progress';
import { SignalService } from './signals';
import { OperationService } from './support/operation.service';
import { OverrideService } from './support/override.service';
import { WaveCommandsService } from './waves/wave-commands.service';
import { ApprovalService } from './approvals/approval.service';
import { GateEvaluator } from './gates/gate-evaluator';
import { WaveQueryService } from './waves/wave-query.service';
import { NotificationService } from './notifications';

/** The Redis connection the queues use (and, in the worker, its Workers and the shared pace). */
export const QUEUE_REDIS = Symbol('QUEUE_REDIS');
/** The process's one watch per dependency: every client reports to it, so an outage makes one line, not one per retry. */
export const REDIS_WATCH = Symbol('REDIS_WATCH');
/** The wave engine (worker only): see buildEngine. */
export const ENGINE = Symbol('ENGINE');

/**
 * What the API holds of the mailstore: its probe, and nothing else (style.md: the API does no provisioning work; it
 * only reports whether the configured driver's store answers, GET /health/dependencies).
 */
export interface MailstoreProbe {
  probe(opts?: { signal?: AbortSignal }): Promise<Probe>;
}
export const MAILSTORE_PROBE = Symbol('MAILSTORE_PROBE');
const POSTGRES_WATCH = Symbol('POSTGRES_WATCH');
const CORE_SERVICES = Symbol('CORE_SERVICES');

/** The pool opens connections on demand and says nothing when PostgreSQL goes: a probe does (cheap, one at a time). */
const POSTGRES_PROBE_INTERVAL_MS = 2000;

export interface CoreModuleOptions {
  config: EnvironmentDto;
  role: CoreRole;
  /** The process's logger (libs/logging): outage lines, queue errors. */
  logger: Logger;
  /** Inert stand-ins for every connection: the API's OpenAPI document is built without connecting to anything. */
  offline?: boolean;
  /** Worker: what the engine reports as it runs, for its /metrics. */
  engineMetrics?: EngineMetrics;
  /** The clock time windows are judged on (default: the system's); tests shift it. */
  clock?: Clock;
  /** The process's Prometheus registry (METRICS_REGISTRY), when made before the module (the worker's); else one is. */
  metricsRegistry?: Registry;
}

/** Watches PostgreSQL from boot to shutdown, so an outage is logged even when nothing queries. */
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

  /** Before the pool closes (a probe then would log a false outage). */
  async stop(): Promise<void> {
    await this.probe?.stop();
  }
}

/** The API's mailstore connections: its health probe's (GET /health/dependencies, cached a second). */
const API_CONNECTIONS = 2;

/**
 * Closes what the module opened, last (a global module's shutdown hooks run after the importing modules' ones: the
 * API's HTTP server and the worker's consumers have stopped by then): the login counts that wait, the queues, the
 * mailstore pool, Redis, then PostgreSQL.
 */
@Injectable()
class CoreShutdown implements OnApplicationShutdown {
  constructor(
    private readonly dataSource: DataSource,
    private readonly producer: QueueProducer,
    @Inject(QUEUE_REDIS) private readonly redis: Redis,
    private readonly postgresProbe: PostgresProbe,
    private readonly logins: LoginIngestService,
    @Optional() @Inject(MAILSTORE) private readonly client?: Mailstore,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await this.logins.close(); // the login counts that wait, while PostgreSQL is still there
    await this.producer.close();
    await this.client?.close();
    this.redis.disconnect();
    await this.postgresProbe.stop();
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
  }
}

const SERVICES: [new (...args: never[]) => unknown, keyof CoreServices][] = [
  [WaveCommandsService, 'commands'],
  [WaveQueryService, 'waves'],
  [OperationService, 'operations'],
  [OverrideService, 'overrides'],
  [AccountImportService, 'imports'],
  [ApiKeyService, 'apiKeys'],
  [AuditQueryService, 'audit'],
  [SignalService, 'signals'],
  [ProgressService, 'progress'],
  [LoginIngestService, 'logins'],
  [NotificationService, 'notifications'],
  [ApprovalService, 'approvals'],
  [GateEvaluator, 'gateCheck'],
];

/**
 * libs/core as a Nest module, for the API and the worker: the environment, the connections (PostgreSQL, the queues'
 * Redis, the producer; the worker's mailstore client), the services, and for the worker the engine, all built by
 * core-graph.ts from the validated environment. The API's connections fail fast (a request never waits for Redis);
 * the worker's wait for their dependency to return (BullMQ requires it of workers).
 */
@Global()
@Module({})
export class CoreModule {
  static forRoot(options: CoreModuleOptions): DynamicModule {
    const { config, role, logger } = options;
    const services: Provider[] = [
      { provide: EnvironmentDto, useValue: config },
      { provide: METRICS_REGISTRY, useValue: options.metricsRegistry ?? createProcessRegistry(role) },
      {
        provide: CORE_SERVICES,
        inject: [DataSource, QueueProducer, QUEUE_REDIS],
        useFactory: (ds: DataSource, producer: QueueProducer, redis: Redis) =>
          buildCoreServices(ds, producer, config, options.clock, options.offline ? undefined : redis),
      },
      ...SERVICES.map(([service, key]) => ({
        provide: service,
        inject: [CORE_SERVICES],
        useFactory: (s: CoreServices) => s[key],
      })),
    ];
    const exported = [
      EnvironmentDto,
      METRICS_REGISTRY,
      DataSource,
      QueueProducer,
      QUEUE_REDIS,
      REDIS_WATCH,
      WorkerRoster,
      ...SERVICES.map(([s]) => s),
    ];
    if (options.offline) {
      const inert = [DataSource, QueueProducer, QUEUE_REDIS, REDIS_WATCH, WorkerRoster, MAILSTORE_PROBE].map(
        (token) => ({
          provide: token,
          useValue: {},
        }),
      );
      return { module: CoreModule, providers: [...services, ...inert], exports: [...exported, MAILSTORE_PROBE] };
    }
    const sink = ({ level, msg, ...fields }: DependencyEvent) => logger[level](fields, msg);
    const connections: Provider[] = [
      { provide: REDIS_WATCH, useValue: new DependencyWatch('redis', sink) },
      { provide: POSTGRES_WATCH, useValue: new DependencyWatch('postgres', sink) },
      { provide: DataSource, useFactory: () => openCoreDataSource(config, role) },
      {
        provide: QUEUE_REDIS,
        inject: [REDIS_WATCH],
        useFactory: (watch: DependencyWatch) =>
          role === 'api'
            ? createProducerRedis(config.REDIS_URL, 'reopen-api-producer', watch)
            : createRedis(config.REDIS_URL, 'reopen-worker', watch),
      },
      {
        provide: QueueProducer,
        inject: [QUEUE_REDIS],
        useFactory: (redis: Redis) =>
          new QueueProducer(redis, config.REDIS_PREFIX, {
            onError: bullmqErrorHandler((err) => logger.error({ error: err.message }, 'queue error')),
            // One line per refused job, no stack: the outage itself is the watch's line (fail-fast producers only).
            onUnavailable: (err) => logger.warn({ reason: err.reason }, err.message),
          }),
      },
      {
        provide: WorkerRoster,
        inject: [QUEUE_REDIS],
        useFactory: (redis: Redis) => new WorkerRoster(redis, config.REDIS_PREFIX),
      },
      PostgresProbe,
      CoreShutdown,
    ];
    // The worker's drives the waves; the API's only answers its health probe (two connections at most), and the API
    // is given the probe alone.
    const mailstore: Provider[] = [
      {
        provide: MAILSTORE,
        useFactory: () => (role === 'worker' ? createMailstore(config) : createMailstore(config, API_CONNECTIONS)),
      },
      {
        provide: MAILSTORE_PROBE,
        inject: [MAILSTORE],
        useFactory: (store: Mailstore): MailstoreProbe => ({ probe: (opts) => store.probe(opts) }),
      },
    ];
    const engine: Provider[] =
      role === 'worker'
        ? [
            {
              provide: ENGINE,
              inject: [DataSource, QueueProducer, QUEUE_REDIS, MAILSTORE, WaveCommandsService],
              useFactory: (
                dataSource: DataSource,
                producer: QueueProducer,
                redis: Redis,
                client: Mailstore,
                commands: WaveCommandsService,
              ) => buildEngine({ dataSource, producer, redis, client }, commands, config, options.engineMetrics),
            },
          ]
        : [];
    return {
      module: CoreModule,
      providers: [...services, ...connections, ...mailstore, ...engine],
      exports: [...exported, MAILSTORE_PROBE, ...(role === 'worker' ? [MAILSTORE, ENGINE] : [])],
    };
  }
}
