import { Provider } from '@nestjs/common';
import Redis from 'ioredis';
import { EnvironmentDto } from '@app/config';

export const REDIS_CLIENT = Symbol('REDIS_CLIENT');

export const redisProvider: Provider = {
  provide: REDIS_CLIENT,
  inject: [EnvironmentDto],
  useFactory: (config: EnvironmentDto) =>
    new Redis(config.REDIS_URL, { maxRetriesPerRequest: 2, enableOfflineQueue: false, lazyConnect: false }),
};
