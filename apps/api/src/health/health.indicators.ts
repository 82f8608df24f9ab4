import { Inject, Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { DataSource } from 'typeorm';
import Redis from 'ioredis';
import { request } from 'undici';
import { EnvironmentDto } from '@app/config';
import { REDIS_CLIENT } from '../infra.tokens';

const TIMEOUT_MS = 2000;

/** Readiness probes: each dependency answers within 2 s, or the instance is taken out of rotation. */
@Injectable()
export class HealthIndicators {
  constructor(
    private readonly indicator: HealthIndicatorService,
    private readonly dataSource: DataSource,
    @Inject(REDIS_CLIENT) private readonly redisClient: Redis,
    private readonly config: EnvironmentDto,
  ) {}

  database() {
    return this.indicator
      .check('database')
      .attempt(async () => {
        await this.dataSource.query('SELECT 1');
      })
      .withTimeout(TIMEOUT_MS);
  }

  redis() {
    return this.indicator
      .check('redis')
      .attempt(async () => {
        await this.redisClient.ping();
      })
      .withTimeout(TIMEOUT_MS);
  }

  /** The capabilities document: it needs the token, so a wrong MAILSTORE_TOKEN shows here too. */
  mailstore() {
    return this.indicator
      .check('mailstore')
      .attempt(async ({ signal }) => {
        const res = await request(`${this.config.MAILSTORE_URL}/capabilities`, {
          headers: { authorization: `Bearer ${this.config.MAILSTORE_TOKEN}` },
          signal,
        });
        await res.body.dump();
        if (res.statusCode !== 200) throw new Error(`capabilities answered HTTP ${res.statusCode}`);
      })
      .withTimeout(TIMEOUT_MS)
      .cacheFor(1000);
  }
}
