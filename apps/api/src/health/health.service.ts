import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { request } from 'undici';
import Redis from 'ioredis';
import { EnvironmentDto } from '@app/config';
import { REDIS_CLIENT } from '../redis.provider';

export interface DependencyCheck {
  status: 'up' | 'down';
  latencyMs: number;
  error?: string;
}

export interface ReadinessReport {
  status: 'ok' | 'unavailable';
  checks: { database: DependencyCheck; redis: DependencyCheck; mailstore: DependencyCheck };
}

const CHECK_TIMEOUT_MS = 2000;

async function timed(probe: () => Promise<unknown>): Promise<DependencyCheck> {
  const started = Date.now();
  try {
    await Promise.race([
      probe(),
      new Promise((_, reject) =>
        setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS).unref(),
      ),
    ]);
    return { status: 'up', latencyMs: Date.now() - started };
  } catch (err) {
    return { status: 'down', latencyMs: Date.now() - started, error: err instanceof Error ? err.message : String(err) };
  }
}

@Injectable()
export class HealthService {
  constructor(
    private readonly dataSource: DataSource,
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    private readonly config: EnvironmentDto,
  ) {}

  /** Ready when PostgreSQL, Redis and the mailstore's capabilities all answer. */
  async readiness(): Promise<ReadinessReport> {
    const [database, redis, mailstore] = await Promise.all([
      timed(() => this.dataSource.query('SELECT 1')),
      timed(() => this.redis.ping()),
      timed(async () => {
        const res = await request(`${this.config.MAILSTORE_URL}/capabilities`, {
          headers: { authorization: `Bearer ${this.config.MAILSTORE_TOKEN}` },
          headersTimeout: CHECK_TIMEOUT_MS,
          bodyTimeout: CHECK_TIMEOUT_MS,
        });
        await res.body.dump();
        if (res.statusCode !== 200) throw new Error(`capabilities answered HTTP ${res.statusCode}`);
      }),
    ]);
    const up = [database, redis, mailstore].every((c) => c.status === 'up');
    return { status: up ? 'ok' : 'unavailable', checks: { database, redis, mailstore } };
  }
}
