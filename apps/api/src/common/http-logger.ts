import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { RequestHandler } from 'express';
import type { Logger } from 'pino';
import pinoHttp from 'pino-http';
import { sanitizePath } from '@app/logging';

export const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The request id, taken from X-Request-Id when it is a sane token (a dashboard or a proxy may set it) or made here,
 * and echoed back; then, when info is enabled, one JSON line per request under that id. Only method, path, status,
 * duration and the actor are logged: never headers (they carry the keys), never the query string (it carries
 * `?key=`, logins, e-mail addresses and cursors), and the path with its logins masked (`/accounts/a***@example.test`,
 * libs/logging's sanitizePath): the audit log has who acted on which account in full.
 */
export function requestMiddlewares(logger: Logger): RequestHandler[] {
  const assignId: RequestHandler = (req, res, next) => {
    const given = req.headers['x-request-id'];
    req.id = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    res.setHeader('X-Request-Id', req.id);
    next();
  };
  // Below info the per-request logger would only cost CPU: failures are logged by the exception filter.
  if (!logger.isLevelEnabled('info')) return [assignId];
  const log = pinoHttp({
    logger,
    genReqId: (req: IncomingMessage) => req.id,
    customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : 'info'),
    customProps: (req) => ({ actor: (req as { principal?: { actor: string } }).principal?.actor }),
    serializers: {
      req: (req: { id: unknown; method: string; url: string }) => ({
        id: req.id,
        method: req.method,
        path: sanitizePath(req.url),
      }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
    autoLogging: { ignore: (req) => withoutQuery(req.url ?? '') === '/api/v1/health/live' },
  });
  return [assignId, log];
}

function withoutQuery(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}
