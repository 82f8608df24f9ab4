import { ArgumentsHost, Catch, ExceptionFilter } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { Logger } from 'pino';
import { isBodyParserError, toProblem } from './problem-mapping';
import { sendProblem } from './problem';

/** The one place errors become answers: application/problem+json, a stable code, never a stack trace. */
@Catch()
export class ProblemFilter implements ExceptionFilter {
  constructor(private readonly log: Logger) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    respondWithProblem(exception, http.getRequest<Request>(), http.getResponse<Response>(), this.log);
  }
}

/** The filter's answer for an error, also for the body parsers' errors (they never reach Nest's filters). */
function respondWithProblem(exception: unknown, req: Request, res: Response, log: Logger): void {
  const p = toProblem(exception);
  p.requestId = typeof req.id === 'string' || typeof req.id === 'number' ? String(req.id) : undefined;
  if (p.status >= 500) log.error({ err: exception, requestId: req.id }, 'request failed');
  // A refused upload may still be arriving: closing beats reading megabytes we will not use.
  if (!req.complete) res.setHeader('Connection', 'close');
  sendProblem(res, p);
}

/** Express error middleware after the body parsers: their errors never reach Nest's filters. */
export function bodyParserErrorHandler(log: Logger) {
  return (err: unknown, req: Request, res: Response, next: (err?: unknown) => void): void => {
    if (!isBodyParserError(err)) {
      next(err);
      return;
    }
    respondWithProblem(err, req, res, log);
  };
}
