import type { RequestHandler } from 'express';
import { sanitizePath } from '@app/logging';
import { SpanKind, SpanStatusCode, startSpan, tracingOn } from '@app/tracing';

/**
 * One SERVER span per request (libs/tracing; installed only when tracing is on), child of the caller's W3C
 * `traceparent` when it sends one: what the request does (a command's queued jobs, and through their data the
 * worker's spans) runs inside it. Named after the route template once Express has matched it (`POST
 * /api/v1/waves/:id/start`); the path is recorded as the request log shows it (logins masked, no query).
 */
export function requestTracing(): RequestHandler[] {
  if (!tracingOn()) return [];
  const trace: RequestHandler = (req, res, next) => {
    const path = sanitizePath(req.originalUrl);
    const carrier: Record<string, string> = {};
    for (const h of ['traceparent', 'tracestate']) {
      const v = req.headers[h];
      if (typeof v === 'string') carrier[h] = v;
    }
    const started = startSpan(`${req.method} ${path}`, {
      kind: SpanKind.SERVER,
      parent: carrier,
      attributes: { 'http.request.method': req.method, 'url.path': path },
    });
    if (!started) {
      next();
      return;
    }
    const { span } = started;
    res.once('finish', () => {
      const route = (req.route as { path?: string } | undefined)?.path;
      if (route) {
        const template = `${req.baseUrl}${route}`;
        span.updateName(`${req.method} ${template}`);
        span.setAttribute('http.route', template);
      }
      if (typeof req.id === 'string') span.setAttribute('reopen.request_id', req.id);
      span.setAttribute('http.response.status_code', res.statusCode);
      if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    });
    res.once('close', () => {
      if (!res.writableFinished) span.end(); // the client went away first
    });
    started.run(next);
  };
  return [trace];
}
