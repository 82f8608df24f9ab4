import 'reflect-metadata';
import { loadApiSettings, SHUTDOWN_DEADLINES_MS, startupFailureLine } from '@app/config';
import { alwaysLogged, createLogger, sanitizeUrl } from '@app/logging';
import { startTracing } from '@app/tracing';
import { createApiApp } from './app.factory';
import { loadEnvironmentOrExit } from '@app/core';

/** A stuck dependency must not keep a stopping process alive forever. */

async function bootstrap(): Promise<void> {
  // Every bad variable at once, the mailstore driver's too, before anything connects.
  const config = loadEnvironmentOrExit('api');
  const settings = loadApiSettings();
  const logger = createLogger('reopen-api', config.LOG_LEVEL);
  // Before the app: spans of the first requests need the SDK registered (nothing is loaded when tracing is off).
  const tracing = startTracing('reopen-api', config);
  if (tracing) logger.info({ endpoint: sanitizeUrl(tracing.endpoint) }, 'tracing on');
  const app = await createApiApp({ config, settings, logger });
  await app.listen(config.PORT, '0.0.0.0');
  // The bound port: PORT=0 picks a free one.
  const address = app.getHttpServer().address() as { port: number } | null;
  // Always printed, whatever LOG_LEVEL: tools wait for this line and read the port from it.
  alwaysLogged(logger).info({ port: address?.port ?? config.PORT }, 'api listening');

  // Ordered, bounded shutdown: event streams end, the server stops taking requests and finishes those in flight,
  // then queues, Redis and PostgreSQL close (Nest's shutdown hooks, in that order).
  let stopping = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    setTimeout(() => {
      logger.error('shutdown deadline passed, exiting');
      process.exit(1);
    }, SHUTDOWN_DEADLINES_MS.api).unref();
    app
      .close()
      .then(() => tracing?.shutdown()) // the spans still buffered are exported
      .then(
        () => process.exit(0),
        (err: unknown) => {
          logger.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

bootstrap().catch((err: unknown) => {
  process.stderr.write(`${startupFailureLine('api', err)}\n`);
  process.exit(1);
});
