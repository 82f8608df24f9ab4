import 'reflect-metadata';
import { loadConfigOrExit, startupFailureLine } from '@app/config';
import { startHealthServer, startWorker } from '@app/worker';

const log = (entry: Record<string, unknown>) =>
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), ...entry })}\n`);

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const runtime = await startWorker(config, (e) => {
    if (e.level !== 'debug' || config.LOG_LEVEL === 'debug' || config.LOG_LEVEL === 'trace') log(e);
  });
  // Started once the worker runs, so a probe never sees a half-built process; closed last, so readiness says
  // "stopping" (503) while the shutdown lasts instead of refusing connections.
  const health =
    config.WORKER_HEALTH_PORT === undefined
      ? undefined
      : await startHealthServer(config.WORKER_HEALTH_PORT, () => runtime.health()).catch(async (err: unknown) => {
          await runtime.stop();
          throw err;
        });
  log({
    level: 'info',
    msg: 'worker ready',
    redisPrefix: config.REDIS_PREFIX,
    concurrency: config.WORKER_CONCURRENCY,
    ...(health ? { healthPort: health.port } : {}),
  });
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log({ level: 'info', msg: 'shutting down', signal });
    runtime
      .stop()
      .then(() => health?.close())
      .then(
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
