import 'reflect-metadata';
import { loadConfigOrExit } from '@app/config';
import { createDataSource } from '@app/db';
import Redis from 'ioredis';

/**
 * The worker process: the only one that registers queue processors (style.md). The wave engine
 * (issue 4) plugs its processors in here; until then the worker checks its dependencies and idles.
 */
async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const ds = createDataSource({ url: config.DATABASE_URL, applicationName: 'reopen-worker' });
  await ds.initialize();
  const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: null });
  await redis.ping();
  process.stdout.write(`${JSON.stringify({ msg: 'worker ready', redisPrefix: config.REDIS_PREFIX })}\n`);
  const shutdown = async () => {
    redis.disconnect();
    await ds.destroy();
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown());
  process.once('SIGINT', () => void shutdown());
}

main().catch((err: unknown) => {
  process.stderr.write(`worker failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
