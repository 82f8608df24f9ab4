import type { IncomingMessage, ServerResponse } from 'node:http';
import type { StoredResponse } from './idempotency-store';
import { Problem, PROBLEM_CONTENT_TYPE } from './problem';

export const JSON_CONTENT_TYPE = 'application/json';

/** Bodies above this are refused without being buffered (a full batch of 500 is ~40 kB). */
export const MAX_BODY_BYTES = 8 * 1024 * 1024;

/**
 * Sends a complete response. Headers go out in one writeHead with an explicit Content-Length, so Node
 * neither chunks the body nor looks at each header separately.
 */
export function send(
  res: ServerResponse,
  status: number,
  contentType: string,
  body: string,
  headers: Record<string, string> = {},
): void {
  const payload = Buffer.from(body, 'utf8');
  res.writeHead(status, { ...headers, 'content-type': contentType, 'content-length': payload.length });
  res.end(payload);
}

export function sendJson(res: ServerResponse, status: number, value: unknown, headers?: Record<string, string>): void {
  send(res, status, JSON_CONTENT_TYPE, JSON.stringify(value), headers);
}

export function sendProblem(res: ServerResponse, problem: Problem, headers: Record<string, string> = {}): void {
  send(res, problem.status, PROBLEM_CONTENT_TYPE, problem.toJson(), { ...headers, ...problem.headers });
}

/** A problem as a response that can be stored under an idempotency key (404, 412). */
export function problemResponse(problem: Problem): StoredResponse {
  return {
    status: problem.status,
    contentType: PROBLEM_CONTENT_TYPE,
    headers: problem.headers,
    body: problem.toJson(),
  };
}

export function renderBody(response: StoredResponse): string {
  return typeof response.body === 'string' ? response.body : response.body();
}

/** The client closed the connection before the request body was complete. */
export class ClientGoneError extends Error {
  override name = 'ClientGoneError';
  constructor() {
    super('client closed the connection before the body was complete');
  }
}

/** The whole request body, or 'too_large' when it exceeds `limit` bytes (the rest is drained, not kept). */
export function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer | 'too_large'> {
  const declared = Number(req.headers['content-length']);
  if (declared > limit) return Promise.resolve('too_large');
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
      else {
        req.off('data', onData);
        req.resume(); // drain the rest so the connection stays usable for the answer
        resolve('too_large');
      }
    };
    // The 'close' listener comes off once the body is complete: 'close' fires after every request, and an
    // Error is costly to build. The request stream only errors when the client's connection breaks.
    const onClose = (): void => {
      if (!req.complete) reject(new ClientGoneError());
    };
    req.on('data', onData);
    req.once('error', () => reject(new ClientGoneError()));
    req.once('close', onClose);
    req.once('end', () => {
      req.off('close', onClose);
      resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size));
    });
  });
}

/**
 * Resolves after `ms`, or as soon as the response closes (the client gave up) or `signal` aborts (the
 * simulator closes), whichever comes first. Used to hang without ever answering.
 */
export function untilClosed(res: ServerResponse, ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      res.off('close', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    res.once('close', done);
    signal.addEventListener('abort', done, { once: true });
  });
}

/** The single value of a header (the first when it was sent several times). */
export function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
