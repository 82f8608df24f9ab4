import { Inject, Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { DataSource } from 'typeorm';
import Redis from 'ioredis';
import { request } from 'undici';
import { EnvironmentDto } from '@app/config';
import type { Logger } from 'pino';
import { assertRuntimeRole, DatabaseRoleError } from '@app/db';
import { API_LOGGER, REDIS_CLIENT } from '../infra.tokens';

const TIMEOUT_MS = 2000;

/** Readiness probes: each dependency answers within 2 s, or the instance is taken out of rotation. */
@Injectable()
export class HealthIndicators {
  constructor(
    private readonly indicator: HealthIndicatorService,
    private readonly dataSource: DataSource,
    @Inject(REDIS_CLIENT) private readonly redisClient: Redis,
    private readonly config: EnvironmentDto,
    @Inject(API_LOGGER) private readonly logger: Logger,
  ) {}

  /**
   * PostgreSQL answers, and the API's role still cannot alter or bypass the audit log (it was checked at boot; a role
   * made superuser or granted a privilege since takes the instance out of rotation). The route is public: the answer
   * only says the role is unfit, the log says how.
   */
  database() {
    return this.indicator
      .check('database')
      .attempt(async () => {
        try {
          await assertRuntimeRole((text, params) => this.dataSource.query(text, params));
        } catch (err) {
          if (!(err instanceof DatabaseRoleError)) throw err;
          this.logger.error(err.message);
          throw new Error('the database role can alter or bypass the audit log (see the API log)', { cause: err });
        }
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
