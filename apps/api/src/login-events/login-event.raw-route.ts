import { isUtf8 } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Request, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import type { Histogram, Registry } from 'prom-client';
import { ValidationError, type LoginIngestService } from '@app/core';
import type { ApiRole } from '@app/db';
import { sanitizePath } from '@app/logging';
import { tracingOn } from '@app/tracing';
import { ROLES } from '../auth/access.decorator';
import type { ApiKeyVerifier } from '../auth/api-key.verifier';
import { REQUEST_ID } from '../common/http-logger';
import { inspectInput } from '../common/input-guard';
import { toProblem } from '../common/problem-mapping';
import type { SignalStreamMetrics } from '../metrics/signal-metrics';
import { ingestLoginEvents } from './login-event.controller';

/** The route as Nest registers it (global prefix included): the request metrics' `route` label. */
const LOGIN_EVENTS_ROUTE = '/api/v1/login-events';

export interface RawRouteDeps {
  verifier: Pick<ApiKeyVerifier, 'cached'>;
  logins: LoginIngestService;
  metrics: Pick<SignalStreamMetrics, 'loginEventsReceived'>;
  /** The registry holding reopen_api_request_duration_seconds (request-metrics.ts). */
  registry: Registry;
  /** The API's security headers middleware: its headers for this path are recorded once and replayed. */
  securityHeaders: RequestHandler;
  logger: Logger;
  /** The JSON body limit of every route (API_JSON_LIMIT_KB), in bytes. */
  limitBytes: number;
}

type Listener = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * POST /api/v1/login-events answered on node's `request` event, before Express sees the request (issue 19,
 * bench:events: Dovecot 2.3's exporter posts one event per request, 5,000 a second). Express's middleware chain (the
 * body parser, request id, request log, metrics and header middlewares, then Nest's router, guards and pipe) cost
 * several times as much per POST as the rest of the HTTP path; here each step is done once, directly. The contract is LoginEventController's (the
 * OpenAPI document, the access rule, the work: ingestLoginEvents), and Nest answers whatever this leaves:
 * - only the plain case: POST on the route's path (as Express matches it), no `%` in the URL (the URL guard's checks
 *   and a key to decode), `Content-Type: application/json` (utf-8 or no charset), no Content-Encoding, a body, tracing
 *   off, and a key (`?key=` alone, or the Authorization header, as ApiKeyGuard reads them) that the verifier verified
 *   less than API_KEY_CACHE_MS ago for a role the route takes. Anything else goes on to Express and Nest unchanged:
 *   the first request of a key (the guard verifies it, then this takes the next), every 401/403/429, other methods
 *   and paths;
 * - the body: at most `limitBytes` (413 as the body parser's), UTF-8, JSON whose first character is `{` or `[` (the
 *   parser's strict mode), the validation pipe's input bounds, the controller's rule and work (ingestLoginEvents);
 *   refusals are the exception filter's problems (toProblem), with the same headers;
 * - the security headers (recorded from the API's middleware once), X-Request-Id, the request duration histogram;
 * - the request log: an accepted POST at debug only (5,000 lines a second otherwise), a refusal at info, a failure at
 *   error, in pino-http's shape with the path sanitized (never the query: it carries the key).
 */
export function installLoginEventsRawRoute(server: Server, deps: RawRouteDeps): void {
  const handle = loginEventsRawHandler(deps);
  const others = server.listeners('request') as Listener[];
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (handle(req, res)) return;
    for (const listener of others) listener.call(server, req, res);
  });
}

/** The handler: true when it took the request (it answers it), false to leave it to Express. */
function loginEventsRawHandler(deps: RawRouteDeps): (req: IncomingMessage, res: ServerResponse) => boolean {
  const roles: readonly ApiRole[] = ROLES.signals;
  const fixedHeaders = recordHeaders(deps.securityHeaders);
  const histogram = deps.registry.getSingleMetric('reopen_api_request_duration_seconds') as
    Histogram<'method' | 'route' | 'status'> | undefined;
  if (!histogram) throw new Error('the request duration histogram is not registered yet');
  const accepted = histogram.labels('POST', LOGIN_EVENTS_ROUTE, '202');
  const tracing = tracingOn();
  const log = deps.logger;

  const finish = (
    req: IncomingMessage,
    res: ServerResponse,
    id: string,
    started: bigint,
    status: number,
    type: string,
    body: string,
    actor: string,
  ) => {
    const headers = [...fixedHeaders, 'X-Request-Id', id, 'Content-Type', type];
    headers.push('Content-Length', String(Buffer.byteLength(body)));
    if (!req.complete) headers.push('Connection', 'close'); // a refused upload may still be arriving
    res.writeHead(status, headers);
    res.end(body);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (status === 202) accepted.observe(seconds);
    else histogram.observe({ method: 'POST', route: LOGIN_EVENTS_ROUTE, status: String(status) }, seconds);
    const level = status >= 500 ? 'error' : status === 202 ? 'debug' : 'info';
    if (log.isLevelEnabled(level)) {
      const line = {
        req: { id, method: 'POST', path: sanitizePath(req.url ?? '') },
        res: { statusCode: status },
        responseTime: Math.round(seconds * 1000),
        actor,
      };
      log[level](line, status >= 500 ? 'request errored' : 'request completed');
    }
  };

  const refuse = (
    req: IncomingMessage,
    res: ServerResponse,
    id: string,
    started: bigint,
    err: unknown,
    actor: string,
  ) => {
    const p = toProblem(err);
    p.requestId = id;
    if (p.status >= 500) log.error({ err, requestId: id }, 'request failed');
    finish(req, res, id, started, p.status, 'application/problem+json; charset=utf-8', JSON.stringify(p), actor);
  };

  return (req, res) => {
    if (req.method !== 'POST' || tracing) return false;
    const url = req.url ?? '';
    const q = url.indexOf('?');
    if (!isRoutePath(q === -1 ? url : url.slice(0, q)) || url.includes('%')) return false;
    const h = req.headers;
    if (!isJson(h['content-type']) || h['content-encoding'] !== undefined || h['content-length'] === '0') return false;
    const secret = h.authorization !== undefined ? bearer(h.authorization) : queryKey(q === -1 ? '' : url.slice(q + 1));
    const principal = secret === undefined ? undefined : deps.verifier.cached(secret);
    if (!principal || !roles.includes(principal.role)) return false;

    const started = process.hrtime.bigint();
    const given = h['x-request-id'];
    const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    req.principal = principal;
    const declared = h['content-length'] === undefined ? 0 : Number(h['content-length']);
    if (declared > deps.limitBytes) {
      refuse(req, res, id, started, tooLarge(deps.limitBytes), principal.actor);
      return true;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > deps.limitBytes) {
        done = true;
        refuse(req, res, id, started, tooLarge(deps.limitBytes), principal.actor);
        return;
      }
      chunks.push(chunk);
    });
    req.on('error', () => {
      if (!done) res.destroy(); // the client went away: nobody to answer
      done = true;
    });
    req.on('end', () => {
      if (done) return;
      done = true;
      try {
        const answer = JSON.stringify(ingestLoginEvents(deps.logins, deps.metrics, parse(chunks, size)));
        finish(req, res, id, started, 202, 'application/json; charset=utf-8', answer, principal.actor);
      } catch (err) {
        refuse(req, res, id, started, err, principal.actor);
      }
    });
    return true;
  };
}

/** The route's path as Express matches it: case-insensitive, one trailing slash allowed, the prefix as is. */
function isRoutePath(path: string): boolean {
  const p = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
  // The prefix is matched case-sensitively before Nest's routes (app.factory.ts's 404 for paths outside /api/v1).
  return p.length === LOGIN_EVENTS_ROUTE.length && p.startsWith('/api/v1/') && p.toLowerCase() === LOGIN_EVENTS_ROUTE;
}

/** The body as express.json() with `verify: utf8Only` reads it, then the validation pipe's input bounds. */
function parse(chunks: Buffer[], size: number): unknown {
  const raw = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size);
  if (!isUtf8(raw)) throw bodyError(400, 'entity.not.utf8');
  const text = raw.toString('utf8');
  if (text.length === 0) return {};
  const first = text.trimStart()[0]; // JSON's whitespace: space, tab, LF, CR (trimStart also takes others: JSON.parse refuses them)
  if (first !== '{' && first !== '[') throw bodyError(400, 'entity.parse.failed');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw bodyError(400, 'entity.parse.failed');
  }
  const fault = inspectInput(body);
  if (fault) throw new ValidationError([fault]);
  return body;
}

function bodyError(status: number, type: string, extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(type), { type, status, ...extra });
}

function tooLarge(limit: number): Error {
  return bodyError(413, 'entity.too.large', { limit });
}

const JSON_TYPES = new Set(['application/json', 'application/json; charset=utf-8', 'application/json;charset=utf-8']);

function isJson(type: string | undefined): boolean {
  return type !== undefined && JSON_TYPES.has(type.toLowerCase());
}

/** As ApiKeyGuard reads the header. */
function bearer(header: string): string | undefined {
  return /^Bearer ([^\s]+)$/i.exec(header.trim())?.[1];
}

/** As ApiKeyGuard reads `?key=` from Express's simple query parser: one `key`, no space (`+`) in it. */
function queryKey(query: string): string | undefined {
  let key: string | undefined;
  for (const part of query.split('&')) {
    const eq = part.indexOf('=');
    if ((eq === -1 ? part : part.slice(0, eq)) !== 'key') continue;
    if (key !== undefined) return undefined; // twice: an array, which the guard does not take
    key = eq === -1 ? '' : part.slice(eq + 1);
  }
  return key !== undefined && /^[^\s+]{1,512}$/.test(key) ? key : undefined;
}

/** The headers the API's security middleware sets on this route's answers, recorded once. */
function recordHeaders(middleware: RequestHandler): string[] {
  const headers: string[] = [];
  const recorder = {
    setHeader(name: string, value: string | number | readonly string[]) {
      const i = headers.findIndex((h, n) => n % 2 === 0 && h.toLowerCase() === name.toLowerCase());
      if (i !== -1) headers.splice(i, 2);
      headers.push(name, String(value));
      return recorder;
    },
    removeHeader(name: string) {
      const i = headers.findIndex((h, n) => n % 2 === 0 && h.toLowerCase() === name.toLowerCase());
      if (i !== -1) headers.splice(i, 2);
    },
  };
  let finished = false;
  middleware({ path: LOGIN_EVENTS_ROUTE } as Request, recorder as unknown as Response, (err?: unknown) => {
    if (err) throw err instanceof Error ? err : new Error('the security headers refused the route');
    finished = true;
  });
  if (!finished) throw new Error('the security headers were not set synchronously: they cannot be replayed');
  return headers;
}
