import { LoggerService } from '@nestjs/common';
import pino, { DestinationStream, Logger } from 'pino';

/** The processes that log, each line naming its own in `app`. */
export type AppName = 'reopen-api' | 'reopen-worker';

/**
 * The one logger setup of the API and the worker: pino JSON lines on stdout, `{"level":30,"time":"<ISO>","app":…,
 * …fields, "msg":…}`, at LOG_LEVEL. Log pipelines and the tests read both processes' lines with one schema.
 */
export function createLogger(app: AppName, level: string, destination?: DestinationStream): Logger {
  const options = { level, base: { app }, timestamp: pino.stdTimeFunctions.isoTime };
  return destination ? pino(options, destination) : pino(options);
}

/**
 * A line tools wait for ("api listening", "worker ready"), written whatever LOG_LEVEL is (at info, in the same schema):
 * a child logger with its own level.
 */
export function alwaysLogged(logger: Logger): Logger {
  return logger.child({}, { level: 'info' });
}

/** Nest's own messages (boot, shutdown errors) as pino lines. */
export class PinoNestLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}
  log(message: unknown, context?: string): void {
    this.logger.info({ context }, String(message));
  }
  error(message: unknown, trace?: string, context?: string): void {
    this.logger.error({ context, trace }, String(message));
  }
  warn(message: unknown, context?: string): void {
    this.logger.warn({ context }, String(message));
  }
  debug(message: unknown, context?: string): void {
    this.logger.debug({ context }, String(message));
  }
  verbose(message: unknown, context?: string): void {
    this.logger.trace({ context }, String(message));
  }
}
