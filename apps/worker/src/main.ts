import 'reflect-metadata';
import { SHUTDOWN_DEADLINES_MS, startupFailureLine } from '@app/config';
import { alwaysLogged, createLogger, PinoNestLogger, sanitizeUrl } from '@app/logging';
import { startTracing } from '@app/tracing';
import { createWorkerContext, HealthListener } from '@app/worker';
import { loadEnvironmentOrExit } from '@app/core';

const SIGNALS = ['SIGTERM', 'SIGINT'] as const;

async function main(): Promise<void> {
  // Every bad variable at once, the mailstore driver's too, before anything connects.
  const config = loadEnvironmentOrExit('worker');
  const logger = createLogger('reopen-worker', config.LOG_LEVEL);
  // Before the app: the consumers' spans need the SDK registered (nothing is loaded when tracing is off).
  const tracing = startTracing('reopen-worker', config);
  if (tracing) logger.info({ endpoint: sanitizeUrl(tracing.endpoint) }, 'tracing on');
  const app = await createWorkerContext(config, logger, { onShutdown: tracing?.shutdown });
  app.useLogger(new PinoNestLogger(logger));
  // Ordered, bounded shutdown: on SIGTERM or SIGINT the consumers stop taking jobs, pumps finish their batch, the
  // timers' rounds end, then queues, the mailstore pool, Redis and PostgreSQL close (Nest's shutdown hooks, in that
  // order), and the process exits 0 (1 if a hook failed). A stuck dependency must not keep it alive past its deadline.
  for (const signal of SIGNALS) {
    process.once(signal, () => {
      logger.info({ signal }, 'shutting down');
      setTimeout(() => {
        logger.error('shutdown deadline passed, exiting');
        process.exit(1);
      }, SHUTDOWN_DEADLINES_MS.worker).unref();
    });
  }
  app.enableShutdownHooks([...SIGNALS], { useProcessExit: true });
  const healthPort = app.get(HealthListener).port;
  // Always printed, whatever LOG_LEVEL: tools wait for this line (its signal handlers are installed by then).
  alwaysLogged(logger).info(
    {
      redisPrefix: config.REDIS_PREFIX,
      concurrency: config.WORKER_CONCURRENCY,
      ...(healthPort === undefined ? {} : { healthPort }),
    },
    'worker ready',
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`${startupFailureLine('worker', err)}\n`);
  process.exit(1);
});
