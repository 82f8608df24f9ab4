import { DynamicModule, INestApplicationContext, Module, OnApplicationShutdown } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { Logger } from 'pino';
import { EnvironmentDto } from '@app/config';
import type { Clock } from '@app/domain';
import { CoreModule, createProcessRegistry } from '@app/core';
import { HealthListener } from './health-listener';
import { WorkerMetrics } from './worker-metrics';
import { WorkerRuntime } from './worker-runtime';
import { WORKER_LOGGER } from './worker.tokens';

/** The consumers and timers, one module below the root: their bootstrap hook runs before the health listener's. */
@Module({ providers: [WorkerRuntime], exports: [WorkerRuntime] })
class WorkerRuntimeModule {}

/**
 * The worker process as a Nest application (as immich, twenty and novu run theirs): libs/core's CoreModule with the
 * engine (role 'worker'), the queue consumers and timers (WorkerRuntime), and the health listener. Lifecycle hooks
 * order start and shutdown: connections, then consumers, then the listener; on the way down the listener says
 * "stopping" while the consumers stop, then CoreModule closes the connections.
 */
export interface WorkerContextOptions {
  /** Last of the shutdown, once the consumers stopped (the tracing SDK exports its buffered spans). */
  onShutdown?: () => Promise<void>;
  /** The time windows' clock; tests only (a shifted clock crosses a DST change in seconds). */
  clock?: Clock;
}

const WORKER_OPTIONS = Symbol('WORKER_OPTIONS');

class ShutdownCallback implements OnApplicationShutdown {
  constructor(private readonly options: WorkerContextOptions) {}
  async onApplicationShutdown(): Promise<void> {
    await this.options.onShutdown?.();
  }
}

@Module({})
class WorkerModule {
  static forRoot(config: EnvironmentDto, logger: Logger, options: WorkerContextOptions = {}): DynamicModule {
    const { clock } = options;
    // Made here, before the graph: the engine (CoreModule) reports to it, and the health listener serves it.
    const registry = createProcessRegistry('worker');
    const metrics = new WorkerMetrics(registry);
    return {
      module: WorkerModule,
      imports: [
        CoreModule.forRoot({
          config,
          role: 'worker',
          logger,
          engineMetrics: metrics,
          metricsRegistry: registry,
          clock,
        }),
        {
          module: WorkerRuntimeModule,
          providers: [
            { provide: WORKER_LOGGER, useValue: logger },
            { provide: WorkerMetrics, useValue: metrics },
          ],
          exports: [WorkerMetrics],
        },
      ],
      providers: [
        HealthListener,
        { provide: WORKER_OPTIONS, useValue: options },
        {
          provide: ShutdownCallback,
          useFactory: (o: WorkerContextOptions) => new ShutdownCallback(o),
          inject: [WORKER_OPTIONS],
        },
      ],
    };
  }
}

/**
 * Builds and starts the worker: resolved once it consumes its queues (and its health listener, if any, listens). Nest
 * logs nothing of its own while it boots (`logger: false`): a failure is the caller's one line (startupFailureLine),
 * and `abortOnError: false` makes it a rejection instead of process.abort(). The caller closes it (app.close(), or the
 * shutdown hooks apps/worker enables).
 */
export function createWorkerContext(
  config: EnvironmentDto,
  logger: Logger,
  options: WorkerContextOptions = {},
): Promise<INestApplicationContext> {
  return NestFactory.createApplicationContext(WorkerModule.forRoot(config, logger, options), {
    logger: false,
    abortOnError: false,
  });
}
