import { createServer, IncomingMessage, ServerResponse, STATUS_CODES } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';

/** Each dependency must answer within this, or it counts as down (the API's readiness uses the same 2 s). */
const HEALTH_CHECK_TIMEOUT_MS = 2000;

interface CheckResult {
  status: 'up' | 'down';
  /** Why it is down, one line (never a stack). */
  message?: string;
}

export interface HealthReport {
  ok: boolean;
  checks: Record<string, CheckResult>;
}

/** Runs every check at once, each bounded by `timeoutMs`; a check is up when its promise resolves in time. */
export async function runChecks(
  checks: Record<string, () => Promise<void>>,
  timeoutMs = HEALTH_CHECK_TIMEOUT_MS,
): Promise<HealthReport> {
  const entries = await Promise.all(
    Object.entries(checks).map(async ([name, check]): Promise<[string, CheckResult]> => {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      });
      try {
        await Promise.race([check(), late]);
        return [name, { status: 'up' }];
      } catch (err) {
        const message = err instanceof Error ? err.message.split('\n')[0] : String(err);
        return [name, { status: 'down', message }];
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  const checksByName = Object.fromEntries(entries);
  return { ok: entries.every(([, r]) => r.status === 'up'), checks: checksByName };
}

export interface HealthServer {
  /** The bound port (WORKER_HEALTH_PORT, or the one picked for 0). */
  port: number;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const type = status === 200 ? 'application/json' : 'application/problem+json';
  res.writeHead(status, {
    'content-type': `${type}; charset=utf-8`,
    'cache-control': 'no-store',
    ...(status === 405 ? { allow: 'GET, HEAD' } : {}),
  });
  res.end(JSON.stringify(body));
}

/** RFC 9457 problem details, shaped as the API's (apps/api/src/common/problem.ts; the worker may not import it). */
function problem(status: number, code: string, detail: string, extra: Record<string, unknown> = {}) {
  return { type: `urn:reopen:problem:${code}`, title: STATUS_CODES[status], status, detail, code, ...extra };
}

/** The port is taken: the operator's fix, said in one line (startupFailureLine prints it without a stack). */
class HealthPortError extends Error {
  readonly operatorFix = true;
}

export interface HealthRoutes {
  ready: () => Promise<HealthReport>;
  /** The Prometheus exposition for `GET /metrics` (404 without). */
  metrics?: () => Promise<{ contentType: string; body: string }>;
}

/**
 * The worker's health listener, on node:http (the worker has no HTTP framework, and three routes need none):
 * - `GET /health/live`: 200 while the process answers (a Kubernetes livenessProbe; it does not look at PostgreSQL or
 *   Redis, since the worker reconnects by itself and a restart would not bring them back);
 * - `GET /health/ready`: 200 when PostgreSQL and Redis answer within 2 s and its queue consumers run, else 503 with
 *   the state of each (a readinessProbe, and the compose healthcheck through health-probe.ts). The answers mirror the
 *   API's `/api/v1/health/*`: `{status: 'ok', checks}`, or a problem `not_ready` naming the dependency that is down;
 * - `GET /metrics`: the worker's own Prometheus metrics (WorkerMetrics). No key, as the health routes: the listener
 *   is meant for the container's network (compose does not publish it), and nothing in it names an account.
 */
export async function startHealthServer(port: number, routes: HealthRoutes): Promise<HealthServer> {
  const { ready, metrics } = routes;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '').replace(/\?.*$/s, '');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, 405, problem(405, 'method_not_allowed', 'the health routes answer GET only'));
    } else if (path === '/metrics' && metrics) {
      metrics().then(
        ({ contentType, body }) => {
          res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' });
          res.end(body);
        },
        (err: unknown) => send(res, 500, problem(500, 'internal_error', `metrics: ${String(err)}`)),
      );
    } else if (path === '/health/live') {
      send(res, 200, { status: 'ok' });
    } else if (path === '/health/ready') {
      ready().then(
        (report) =>
          send(
            res,
            report.ok ? 200 : 503,
            report.ok
              ? { status: 'ok', checks: report.checks }
              : problem(503, 'not_ready', 'a dependency is down', { checks: report.checks }),
          ),
        (err: unknown) => send(res, 503, problem(503, 'not_ready', String(err))),
      );
    } else {
      send(res, 404, problem(404, 'not_found', `no route ${path}`));
    }
  });
  // Probes come every few seconds: no keep-alive connection should hold the shutdown.
  server.keepAliveTimeout = 1000;
  server.listen(port, '0.0.0.0');
  try {
    await once(server, 'listening');
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code !== 'EADDRINUSE' && code !== 'EACCES') throw err;
    const why = code === 'EADDRINUSE' ? 'another process listens on it' : 'a port below 1024 needs privileges';
    throw new HealthPortError(`WORKER_HEALTH_PORT ${port}: ${code} (${why}): choose another port`, { cause: err });
  }
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      const closed = once(server, 'close');
      server.close();
      server.closeAllConnections();
      await closed;
    },
  };
}
