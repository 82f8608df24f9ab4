import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import { ValidationError, type LoginIngestService } from '@app/core';
import type { ApiRole } from '@app/db';
import { ROLES } from '../auth/access.decorator';
import type { ApiKeyGuard } from '../auth/api-key.guard';
import { inspectInput } from '../common/input-guard';
import { respondWithProblem } from '../common/problem.filter';
import { SignalStreamMetrics } from '../metrics/signal-metrics';
import { ingestLoginEvents } from './login-event.controller';

/** The route as Nest registers it (global prefix included): the request metrics' `route` label. */
export const LOGIN_EVENTS_ROUTE = '/api/v1/login-events';

/**
 * POST /api/v1/login-events answered ahead of Nest's router (issue 19, bench:events). Dovecot's exporter posts one
 * event per request, 5,000 a second; the event's own work is a map update, and in the API's CPU profile of
 * bench:events the rest of Nest's path for one POST (the router's walk over every route's layer, the execution
 * context, both global guards' metadata look-ups, the validation pipe, the reply adapter) was a large part of
 * `apiCpuMsPerEvent` (docs/benchmarks.md "events": the figures before and after).
 *
 * The contract is LoginEventController's, which stays the route's declaration (OpenAPI, access check) and shares
 * its work (ingestLoginEvents). Mounted after the same middlewares as every route (security headers, request
 * metrics, request id and log, request tracing, URL check, the same JSON body parser and limit: its errors skip this handler and
 * reach the body-parser error handler), so only Nest's own steps are done here, the same way:
 * - the key: ApiKeyGuard.admit, the guard's own check (same verifier and cache, address budget, `?key=`, 401/403);
 * - the body: the validation pipe's input bounds (inspectInput), then the controller's rule (400 naming `body`);
 * - not throttled (the controller's @SkipThrottle);
 * - errors: the exception filter's answer (respondWithProblem: problem+json, 5xx logged), never Express's page.
 * Any other method, or a longer path, goes on to Nest as before. The plain case (a key verified less than
 * API_KEY_CACHE_MS ago, a JSON body) does not even reach this: login-event.raw-route.ts answers it on node's request
 * event; this handler takes the rest (the first request of a key, every refusal of a key, unusual requests).
 */
export function loginEventsFastRoute(deps: {
  guard: Pick<ApiKeyGuard, 'admit'>;
  logins: LoginIngestService;
  metrics: Pick<SignalStreamMetrics, 'loginEventsReceived'>;
  logger: Logger;
}): RequestHandler {
  const roles: readonly ApiRole[] = ROLES.signals;
  const route = { path: LOGIN_EVENTS_ROUTE };
  return (req: Request, res: Response, next: NextFunction) => {
    // Mounted without a path (so req.baseUrl stays '' and the metrics and trace name the route as Nest's): the
    // route's path as Express matches it, case-insensitive, with or without one trailing slash.
    if (req.method !== 'POST' || !isRoutePath(req.path)) {
      next();
      return;
    }
    (req as { route?: unknown }).route = route; // the request metrics label it by route, as for Nest's routes
    deps.guard.admit(req, res, roles, true).then(
      () => {
        try {
          const fault = inspectInput(req.body as unknown);
          if (fault) throw new ValidationError([fault]);
          const body = JSON.stringify(ingestLoginEvents(deps.logins, deps.metrics, req.body));
          res.statusCode = 202;
          res.setHeader('Content-Type', 'application/json; charset=utf-8');
          res.setHeader('Content-Length', Buffer.byteLength(body));
          res.end(body);
        } catch (err) {
          respondWithProblem(err, req, res, deps.logger);
        }
      },
      (err: unknown) => respondWithProblem(err, req, res, deps.logger),
    );
  };
}

/** The route's path as Express matches it: case-insensitive, one trailing slash allowed, the prefix as is. */
export function isRoutePath(path: string): boolean {
  const p = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
  // The prefix is matched case-sensitively before Nest's routes (app.factory.ts's 404 for paths outside /api/v1).
  return p.length === LOGIN_EVENTS_ROUTE.length && p.startsWith('/api/v1/') && p.toLowerCase() === LOGIN_EVENTS_ROUTE;
}
