import { LoggerService } from '@nestjs/common';
import pino, { DestinationStream, Logger, LoggerOptions } from 'pino';
import { CENSOR, REDACT_PATHS, redactText, scrubFields } from './redaction';

/** The processes that log, each line naming its own in `app`. */
export type AppName = 'reopen-api' | 'reopen-worker';

/**
 * The one logger setup of the API and the worker: pino JSON lines on stdout, `{"level":30,"time":"<ISO>","app":…,
 * …fields, "msg":…}`, at LOG_LEVEL. Log pipelines and the tests read both processes' lines with one schema
 * (docs/observability.md).
 *
 * Nothing secret is written (redaction.ts): the fields go through scrubFields (secret-named keys censored, strings
 * through redactText, five levels deep), the message and errors (message, stack, cause) through redactText, and
 * pino's `redact` censors a database error's parameters. All of it runs only for lines actually written (a level
 * below LOG_LEVEL costs nothing). A child logger's bindings are not scrubbed: bind ids, never secrets.
 */
export function createLogger(app: AppName, level: string, destination?: DestinationStream): Logger {
  const options: LoggerOptions = {
    level,
    base: { app },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACT_PATHS, censor: CENSOR },
    serializers: { err: serializeError, error: serializeError },
    hooks: { logMethod: scrubArguments },
  };
  return destination ? pino(options, destination) : pino(options);
}

/** `(fields?, message?, ...args)`: the message through redactText, the fields through scrubFields. */
function scrubArguments(this: Logger, args: Parameters<pino.LogFn>, method: pino.LogFn): void {
  // `logger.warn(err)`: pino would copy err.message into msg itself, past this hook.
  const [first] = args as unknown[];
  if (first instanceof Error && args.length === 1) {
    method.call(this, { err: first }, redactText(first.message));
    return;
  }
  const scrubbed = (args as unknown[]).map((arg, i) =>
    typeof arg === 'string' ? redactText(arg) : i === 0 ? scrubFields(arg) : arg,
  );
  method.apply(this, scrubbed as Parameters<pino.LogFn>);
}

/** pino's standard error serializer, then its text scrubbed; a string (`error: String(err)`) is scrubbed too. */
function serializeError(err: unknown): unknown {
  if (typeof err === 'string') return redactText(err);
  if (!(err instanceof Error)) return err;
  // A plain copy of pino's serialized error (own fields: type, message, stack, a driver's detail…), then scrubbed.
  return scrubFields({ ...pino.stdSerializers.err(err) });
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
