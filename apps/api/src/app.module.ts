import { DynamicModule, Module } from '@nestjs/common';
import { APP_GUARD, DiscoveryModule } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { ThrottlerModule } from '@nestjs/throttler';
import type { Logger } from 'pino';
import Redis from 'ioredis';
import { ApiSettings, EnvironmentDto } from '@app/config';
import { CoreModule } from '@app/core';
import { AccountImportController } from './accounts/account-import.controller';
import { AccountLookupService } from './accounts/account-lookup.service';
import { AccountController } from './accounts/account.controller';
import { ApprovalController } from './approvals/approval.controller';
import { AuditController } from './audit/audit.controller';
import { AddressBudget } from './auth/address-budget';
import { ApiKeyGuard } from './auth/api-key.guard';
import { KeyAuthenticator } from './auth/key-authenticator';
import { ApiKeyVerifier } from './auth/api-key.verifier';
import { RouteAccessCheck } from './auth/route-access.check';
import { HealthController } from './health/health.controller';
import { HealthIndicators } from './health/health.indicators';
import { InfraModule } from './infra.module';
import { API_SETTINGS, REDIS_CLIENT } from './infra.tokens';
import { MetricsController } from './metrics/metrics.controller';
import { MetricsService } from './metrics/metrics.service';
import { SignalStreamMetrics } from './metrics/signal-metrics';
import { OperationController } from './operations/operation.controller';
import { WorkerController } from './workers/worker.controller';
import { OverrideController } from './overrides/override.controller';
import { SubscriptionController } from './notifications/subscription.controller';
import { ProgressCache } from './progress/progress-cache.service';
import { ProgressEventsService } from './progress/progress-events.service';
import { ProgressController } from './progress/progress.controller';
import { LoginEventController } from './login-events/login-event.controller';
import { SignalController } from './signals/signal.controller';
import { ApiThrottlerGuard } from './throttling/api-throttler.guard';
import { RedisThrottlerStorage } from './throttling/redis-throttler.storage';
import { WaveLifecycleController } from './waves/wave-lifecycle.controller';
import { WaveController } from './waves/wave.controller';

const CONTROLLERS = [
  AccountImportController,
  AccountController,
  OperationController,
  OverrideController,
  WaveController,
  WaveLifecycleController,
  ProgressController,
  SignalController,
  LoginEventController,
  AuditController,
  ApprovalController,
  HealthController,
  WorkerController,
  MetricsController,
  SubscriptionController,
];

export interface AppModuleOptions {
  config: EnvironmentDto;
  settings: ApiSettings;
  logger: Logger;
  /** Build the module without connecting to anything (OpenAPI generation). */
  offline?: boolean;
}

/** The HTTP process: controllers, guards and producers only; it never runs queue processors (style.md). */
@Module({})
export class AppModule {
  static register(options: AppModuleOptions): DynamicModule {
    const { config, settings, logger } = options;
    return {
      module: AppModule,
      imports: [
        CoreModule.forRoot({ config, role: 'api', logger, offline: options.offline }),
        options.offline ? InfraModule.stub(settings, logger) : InfraModule.forConfig(config, settings, logger),
        DiscoveryModule,
        TerminusModule.forRoot({ logger: false }),
        ThrottlerModule.forRootAsync({
          inject: [API_SETTINGS, REDIS_CLIENT],
          useFactory: (s: ApiSettings, redis: Redis) => ({
            throttlers: [{ name: 'default', ttl: 60_000, limit: s.API_RATE_LIMIT_PER_MINUTE }],
            ...(options.offline ? {} : { storage: new RedisThrottlerStorage(redis, config.REDIS_PREFIX) }),
          }),
        }),
      ],
      controllers: CONTROLLERS,
      providers: [
        ApiKeyVerifier,
        AddressBudget,
        KeyAuthenticator,
        AccountLookupService,
        ProgressCache,
        ProgressEventsService,
        MetricsService,
        SignalStreamMetrics,
        HealthIndicators,
        RouteAccessCheck,
        // Order matters: the key is checked (and the principal set) before the per-key rate limit counts it.
        { provide: APP_GUARD, useClass: ApiKeyGuard },
        { provide: APP_GUARD, useClass: ApiThrottlerGuard },
      ],
    };
  }
}
