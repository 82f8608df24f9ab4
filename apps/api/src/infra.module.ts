import { DynamicModule, Global, Inject, Injectable, Module, OnApplicationShutdown, Provider } from '@nestjs/common';
import Redis from 'ioredis';
import type { Logger } from 'pino';
import { ApiSettings, EnvironmentDto } from '@app/config';
import { REDIS_WATCH } from '@app/core';
import { DependencyWatch, watchRedisClient } from '@app/queue';
import { API_LOGGER, API_SETTINGS, REDIS_CLIENT } from './infra.tokens';

/** Closes the API's own Redis connection once the HTTP server stopped taking requests. */
@Injectable()
class InfraShutdown implements OnApplicationShutdown {
  constructor(@Inject(REDIS_CLIENT) private readonly redis: Redis) {}

  onApplicationShutdown(): void {
    this.redis.disconnect();
  }
}

const EXPORTS = [API_SETTINGS, API_LOGGER, REDIS_CLIENT];

/**
 * What the API adds to libs/core's CoreModule (PostgreSQL, the queues and the services): its settings, its logger and
 * a Redis connection of its own for the rate limits and the health check. The API registers producers only; it never
 * runs a processor (style.md).
 */
@Global()
@Module({})
export class InfraModule {
  static forConfig(config: EnvironmentDto, settings: ApiSettings, logger: Logger): DynamicModule {
    const providers: Provider[] = [
      { provide: API_SETTINGS, useValue: settings },
      { provide: API_LOGGER, useValue: logger },
      {
        provide: REDIS_CLIENT,
        inject: [REDIS_WATCH],
        // Fail fast: a request must not hang on a Redis outage (the throttler lets it through, health says down).
        useFactory: (watch: DependencyWatch) =>
          watchRedisClient(
            watch,
            new Redis(config.REDIS_URL, {
              maxRetriesPerRequest: 1,
              commandTimeout: 1000,
              connectionName: 'reopen-api',
            }),
            'reopen-api',
          ),
      },
      InfraShutdown,
    ];
    return { module: InfraModule, providers, exports: EXPORTS };
  }

  /** Inert stand-ins, for building the OpenAPI document without any connection. */
  static stub(settings: ApiSettings, logger: Logger): DynamicModule {
    const providers: Provider[] = [
      { provide: API_SETTINGS, useValue: settings },
      { provide: API_LOGGER, useValue: logger },
      { provide: REDIS_CLIENT, useValue: {} },
    ];
    return { module: InfraModule, providers, exports: EXPORTS };
  }
}
