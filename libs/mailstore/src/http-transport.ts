import { Dispatcher, Pool } from 'undici';
import type { IncomingHttpHeaders } from 'node:http';
import { retryable, type RetryableCode, type RetryableOutcome } from './outcome';
import { parseJson } from './response-guards';
import { SendByOption, sendByInterceptor, SendWindowMissedError } from './send-by.interceptor';

export interface TransportOptions {
  /** Origin and base path, e.g. http://127.0.0.1:8025/v1. */
  baseUrl: URL;
  connections: number;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  maxResponseBytes: number;
}

export interface TransportRequest {
  method: 'GET' | 'PATCH' | 'POST' | 'DELETE';
  /** Below the base path, already encoded, e.g. `/accounts/a%40b/access`. */
  path: string;
  headers: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
  /** Written before this instant (`performance.now()` clock) or not at all (see send-by.interceptor.ts). */
  sendBy?: number;
}

export type TransportResult =
  | { type: 'response'; status: number; headers: IncomingHttpHeaders; body: unknown; latencyMs: number }
  | { type: 'failure'; outcome: RetryableOutcome };

/**
 * One HTTP exchange over a keep-alive undici Pool, bounded in time (connect timeout, then one deadline for
 * headers and body) and in size. Network failures come back as `retryable` outcomes, never as exceptions.
 */
export class HttpTransport {
  private readonly pool: Pool;
  /** The pool with the send-by check in front. */
  private readonly dispatcher: Dispatcher;
  private readonly basePath: string;

  constructor(private readonly options: TransportOptions) {
    this.basePath = options.baseUrl.pathname.replace(/\/+$/, '');
    this.pool = new Pool(options.baseUrl.origin, {
      connections: options.connections,
      connect: { timeout: options.connectTimeoutMs },
      // Backstops; the AbortController below is the real whole-call deadline.
      headersTimeout: options.requestTimeoutMs,
      bodyTimeout: options.requestTimeoutMs,
    });
    this.dispatcher = this.pool.compose(sendByInterceptor);
  }

  async send(req: TransportRequest): Promise<TransportResult> {
    const isWrite = req.method !== 'GET';
    const deadline = new AbortController();
    const timer = setTimeout(
      () => deadline.abort(new Error('mailstore request timed out')),
      this.options.requestTimeoutMs,
    );
    const signal = req.signal ? AbortSignal.any([req.signal, deadline.signal]) : deadline.signal;
    const started = performance.now();
    const latency = () => Math.round(performance.now() - started);
    try {
      const options: Dispatcher.RequestOptions & SendByOption = {
        method: req.method,
        path: this.basePath + req.path,
        headers: req.headers,
        body: req.body,
        signal,
        sendBy: req.sendBy,
      };
      const res = await this.dispatcher.request(options);
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > this.options.maxResponseBytes) {
        res.body.destroy();
        return this.tooLarge(isWrite, latency());
      }
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > this.options.maxResponseBytes) {
          res.body.destroy();
          return this.tooLarge(isWrite, latency());
        }
        chunks.push(chunk);
      }
      const body = parseJson(Buffer.concat(chunks).toString('utf8'));
      return { type: 'response', status: res.statusCode, headers: res.headers, body, latencyMs: latency() };
    } catch (err) {
      if (err instanceof SendWindowMissedError) return failure('send_window_missed', false, err.message, latency());
      if (req.signal?.aborted) return failure('aborted', isWrite, 'aborted by the caller', latency());
      if (deadline.signal.aborted) {
        return failure('timeout', isWrite, `no complete answer within ${this.options.requestTimeoutMs} ms`, latency());
      }
      const { code, sent } = classifyNetworkError(err);
      return failure(code, isWrite && sent, describe(err), latency());
    } finally {
      clearTimeout(timer);
    }
  }

  /** Waits for in-flight requests, then closes the connections. */
  async close(): Promise<void> {
    await this.pool.close();
  }

  /** Aborts in-flight requests and closes the connections at once. */
  async destroy(): Promise<void> {
    await this.pool.destroy();
  }

  private tooLarge(isWrite: boolean, latencyMs: number): TransportResult {
    // A success may have been applied before its oversized answer: unknown for writes.
    const detail = `response larger than ${this.options.maxResponseBytes} bytes`;
    return failure('protocol_error', isWrite, detail, latencyMs);
  }
}

function failure(code: RetryableCode, outcomeUnknown: boolean, detail: string, latencyMs: number): TransportResult {
  return { type: 'failure', outcome: retryable(code, undefined, outcomeUnknown, detail, latencyMs) };
}

/** Failures before the request can have left the machine: nothing can have been applied. */
const NOT_SENT: Record<string, RetryableCode> = {
  ECONNREFUSED: 'connection_refused',
  ENOTFOUND: 'connection_refused',
  EAI_AGAIN: 'connection_refused',
  EHOSTUNREACH: 'connection_refused',
  ENETUNREACH: 'connection_refused',
  EADDRNOTAVAIL: 'connection_refused',
  UND_ERR_CONNECT_TIMEOUT: 'timeout',
};

/** Failures after sending began: a write may have been applied. */
const MAYBE_SENT: Record<string, RetryableCode> = {
  ECONNRESET: 'connection_reset',
  EPIPE: 'connection_reset',
  ECONNABORTED: 'connection_reset',
  UND_ERR_SOCKET: 'connection_reset',
  ETIMEDOUT: 'timeout',
  UND_ERR_HEADERS_TIMEOUT: 'timeout',
  UND_ERR_BODY_TIMEOUT: 'timeout',
  UND_ERR_DESTROYED: 'aborted',
  UND_ERR_CLOSED: 'aborted',
};

/** Maps a Node/undici error (or one nested in `cause`/`errors`, as happy-eyeballs reports) to a code. */
export function classifyNetworkError(err: unknown): { code: RetryableCode; sent: boolean } {
  for (const code of errorCodes(err)) {
    if (NOT_SENT[code]) return { code: NOT_SENT[code], sent: false };
    if (MAYBE_SENT[code]) return { code: MAYBE_SENT[code], sent: true };
  }
  // Parser errors (HPE_*), content-length mismatches, anything unexpected: the answer is unusable.
  return { code: 'protocol_error', sent: true };
}

function errorCodes(err: unknown, depth = 0): string[] {
  if (typeof err !== 'object' || err === null || depth > 3) return [];
  const e = err as { code?: unknown; cause?: unknown; errors?: unknown };
  const own = typeof e.code === 'string' ? [e.code] : [];
  const nested = Array.isArray(e.errors) ? e.errors.flatMap((x) => errorCodes(x, depth + 1)) : [];
  return [...own, ...errorCodes(e.cause, depth + 1), ...nested];
}

function describe(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const [code] = errorCodes(err);
  return (code ? `${code}: ${message}` : message).slice(0, 300);
}
