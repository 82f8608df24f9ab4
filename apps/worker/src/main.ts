import 'reflect-metadata';
import { loadConfigOrExit, startupFailureLine } from '@app/config';
import { startWorker } from './worker-runtime';

const log = (entry: Record<string, unknown>) =>
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), ...entry })}\n`);

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const runtime = await startWorker(config, (e) => {
    if (e.level !== 'debug' || config.LOG_LEVEL === 'debug' || config.LOG_LEVEL === 'trace') log(e);
  });
  log({ level: 'info', msg: 'worker ready', redisPrefix: config.REDIS_PREFIX, concurrency: config.WORKER_CONCURRENCY });
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log({ level: 'info', msg: 'shutting down', signal });
    runtime.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log({ level: 'error', msg: 'shutdown failed', error: String(err) });
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`${startupFailureLine('worker', err)}\n`);
  process.exit(1);
});
