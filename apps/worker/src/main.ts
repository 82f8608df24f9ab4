import 'reflect-metadata';
import { loadConfigOrExit } from '@app/config';
import { DatabaseRoleError } from '@app/db';
import { DependencyUnreachableError } from '@app/queue';
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
  // A refused database role or a dependency that does not answer is an operator's fix, said in one line; anything
  // else keeps its stack.
  const detail =
    err instanceof DatabaseRoleError || err instanceof DependencyUnreachableError
      ? err.message
      : err instanceof Error
        ? (err.stack ?? err.message)
        : String(err);
  process.stderr.write(`worker failed to start: ${detail}\n`);
  process.exit(1);
});
