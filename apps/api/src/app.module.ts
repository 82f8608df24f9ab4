import { DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { EnvironmentDto } from '@app/config';
import { dataSourceOptions } from '@app/db';
import { HealthController } from './health/health.controller';
import { HealthService } from './health/health.service';
import { redisProvider } from './redis.provider';

/** The HTTP process: controllers and producers only; it never runs queue processors (style.md). */
@Module({})
export class AppModule {
  static forConfig(config: EnvironmentDto): DynamicModule {
    return {
      module: AppModule,
      global: true,
      imports: [
        TypeOrmModule.forRoot({ ...dataSourceOptions({ url: config.DATABASE_URL, applicationName: 'reopen-api' }) }),
      ],
      controllers: [HealthController],
      providers: [{ provide: EnvironmentDto, useValue: config }, redisProvider, HealthService],
      exports: [EnvironmentDto],
    };
  }
}
