import type { RequestHandler } from 'express';
import { Histogram, Registry } from 'prom-client';

/**
 * Server-side latency of every answer, by route template (not raw path: ids would explode the series) and status,
 * measured from the first middleware to the last byte handed to the socket. Event streams are left out: their
 * "duration" is how long a dashboard stayed connected.
 */
export function requestMetrics(registry: Registry): RequestHandler {
  const histogram = new Histogram({
    name: 'reopen_api_request_duration_seconds',
    help: 'API answers by route and status, from request to response end',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [registry],
  });
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    res.once('finish', () => {
      if (String(res.getHeader('content-type') ?? '').startsWith('text/event-stream')) return;
      const path = (req.route as { path?: string } | undefined)?.path;
      const route = path && path !== '*path' ? path : 'unmatched'; // '*path': Nest's not-found catch-all
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      histogram.observe({ method: req.method, route, status: String(res.statusCode) }, seconds);
    });
    next();
  };
}
