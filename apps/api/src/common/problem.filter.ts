import { type Server, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { ArgumentsHost, Catch, ExceptionFilter } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { Logger } from 'pino';
import { isBodyParserError, toProblem } from './problem-mapping';
import { HTTP_CODES, problem, sendProblem } from './problem';

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
export function respondWithProblem(exception: unknown, req: Request, res: Response, log: Logger): void {
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

/** node's parser errors (llhttp codes) → the status, the part at fault and what to say. */
const PARSER_FAULTS: Record<string, [number, string, string]> = {
  HPE_INVALID_METHOD: [400, 'method', 'the method is not an HTTP method'],
  HPE_INVALID_CONTENT_LENGTH: [400, 'content-length', 'Content-Length must be a decimal number of bytes'],
  HPE_UNEXPECTED_CONTENT_LENGTH: [400, 'content-length', 'Content-Length must be sent once'],
  HPE_INVALID_TRANSFER_ENCODING: [
    400,
    'transfer-encoding',
    'Transfer-Encoding must end with chunked and come without Content-Length',
  ],
  HPE_INVALID_CHUNK_SIZE: [400, 'body', 'the chunked body is malformed'],
  HPE_HEADER_OVERFLOW: [431, 'headers', 'the request headers are larger than the server accepts'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'request', 'the request did not arrive in time'],
};

/**
 * Requests node's HTTP parser refuses never reach Express nor the login-event fast path (an unknown method, a bad or
 * doubled Content-Length, Content-Length with chunked encoding, a bad chunk, headers past the limit, a request past
 * its timeout): node answered a bare status line. Each gets the problem+json every refusal gets, naming the part at
 * fault, and the connection is closed (what follows on it cannot be framed).
 */
export function answerParserErrors(server: Server): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    // As node's own answer (its socketOnError): none once the answer in progress on this connection has sent its
    // headers; a keep-alive connection whose earlier answers are complete gets one, like a fresh connection.
    const current = (socket as Duplex & { _httpMessage?: { headersSent: boolean } | null })._httpMessage;
    if (err.code === 'ECONNRESET' || !socket.writable || current?.headersSent) {
      socket.destroy();
      return;
    }
    const [status, field, detail] = PARSER_FAULTS[err.code ?? ''] ?? [400, 'request', 'the request is not valid HTTP'];
    const body = JSON.stringify(problem(status, HTTP_CODES[status] ?? 'bad_request', detail, { field }));
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Bad Request'}\r\n` +
        'Content-Type: application/problem+json; charset=utf-8\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        'Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n' +
        body,
    );
  });
}
