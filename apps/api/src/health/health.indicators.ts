import { Inject, Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { DataSource } from 'typeorm';
import Redis from 'ioredis';
import { MAILSTORE_PROBE, type MailstoreProbe } from '@app/core';
import type { Logger } from 'pino';
import { assertRuntimeRole, DatabaseRoleError } from '@app/db';
import { countWorkers, WORKER_ALIVE_MS, WorkerRoster } from '@app/queue';
import { API_LOGGER, REDIS_CLIENT } from '../infra.tokens';

const TIMEOUT_MS = 2000;

export type Dependency = 'database' | 'redis' | 'mailstore' | 'workers';

/**
 * What this process needs to serve: readiness checks these only. The mailstore and the workers are reported, never a
 * reason to leave (the API serves the status page, its Pause button and the support lane's queue without them).
 */
const NEEDED_FOR_READY: Record<Dependency, boolean> = {
  database: true,
  redis: true,
  mailstore: false,
  workers: false,
};

export interface DependencyState {
  status: 'up' | 'down';
  neededForReady: boolean;
  message?: string;
}

/**
 * Health probes, each answered within 2 s. Readiness takes the instance out of rotation only for what the process
 * itself needs (PostgreSQL, Redis); the mailstore's health is reported by `dependencies()` (GET /health/dependencies,
 * the `reopen_dependency_up` gauge) and by the waves it pauses, so a provider outage never takes every API pod (and
 * with it the status page and its Pause and Roll back buttons) out of service.
 */
@Injectable()
export class HealthIndicators {
  constructor(
    private readonly indicator: HealthIndicatorService,
    private readonly dataSource: DataSource,
    @Inject(REDIS_CLIENT) private readonly redisClient: Redis,
    @Inject(MAILSTORE_PROBE) private readonly store: MailstoreProbe,
    @Inject(API_LOGGER) private readonly logger: Logger,
    private readonly roster: WorkerRoster,
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

  /** Every dependency's state now (the mailstore's cached 1 s: a dashboard polling this never floods it). */
  async dependencies(): Promise<Record<Dependency, DependencyState>> {
    const results = await Promise.all([this.database(), this.redis(), this.mailstore(), this.workers()]);
    const merged = Object.assign({}, ...(results as object[])) as Record<
      string,
      { status: string; message?: unknown } | undefined
    >;
    const state = (name: Dependency): DependencyState => {
      const r = merged[name];
      const message = typeof r?.message === 'string' ? r.message : undefined;
      return {
        status: r?.status === 'up' ? 'up' : 'down',
        neededForReady: NEEDED_FOR_READY[name],
        ...(r?.status !== 'up' && message ? { message } : {}),
      };
    };
    return {
      database: state('database'),
      redis: state('redis'),
      mailstore: state('mailstore'),
      workers: state('workers'),
    };
  }

  /**
   * At least one worker process reported within WORKER_ALIVE_MS (the roster in Redis): without one no wave moves, no
   * scheduled start fires and no support operation runs. GET /workers names them. Cached a second, as the mailstore's:
   * the route is public, and a poller never turns into one Redis script per request.
   */
  workers() {
    return this.indicator
      .check('workers')
      .attempt(async () => {
        const { alive } = countWorkers(await this.roster.read());
        if (!alive) throw new Error(`no worker has reported in the last ${WORKER_ALIVE_MS / 1000} s`);
      })
      .withTimeout(TIMEOUT_MS)
      .cacheFor(1000);
  }

  /**
   * The mailstore as the configured driver (MAILSTORE_DRIVER) reaches it, its probe (`Mailstore.probe`): the HTTP contract's
   * capabilities (they need the token, so a wrong MAILSTORE_TOKEN shows here too), or a native driver's passdb or
   * directory and its doveadm; the message names the part that failed.
   */
  mailstore() {
    return this.indicator
      .check('mailstore')
      .attempt(async ({ signal }) => {
        const probe = await this.store.probe({ signal });
        if (!probe.up) throw new Error(`${probe.part}: ${probe.reason}`);
      })
      .withTimeout(TIMEOUT_MS)
      .cacheFor(1000);
  }
}
