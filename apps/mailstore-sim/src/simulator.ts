import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { seedStore } from './account-seed';
import { validateFaultConfig } from './fault-config';
import { handleAdmin } from './handlers/admin.handler';
import { sendProblem } from './http-io';
import { Problem } from './problem';
import { validateRateLimits } from './rate-limiter';
import { DEFAULT_CALL_LOG_CAPACITY, DEFAULT_IDEMPOTENCY_TTL_SECONDS, SimState, settingsFrom } from './sim-state';
import type { RunningSimulator, SimulatorOptions } from './sim.types';
import { V1Exchange } from './v1-pipeline';

/**
 * Starts the provisioning-contract simulator on a plain node:http server (no framework: the fault modes
 * need the raw socket, and the hot path stays lean). Resolves once it listens.
 */
export async function startSimulator(options: SimulatorOptions = {}): Promise<RunningSimulator> {
  const settings = settingsFrom(options);
  const ttl = options.idempotencyTtlSeconds ?? DEFAULT_IDEMPOTENCY_TTL_SECONDS;
  if (!Number.isSafeInteger(ttl) || ttl < 0) throw new Error('idempotencyTtlSeconds must be a non-negative integer');
  const store = await seedStore({ accounts: options.accounts, accountsCsv: options.accountsCsv });
  const state = new SimState(
    store,
    settings,
    options.rateLimits,
    ttl,
    options.callLogCapacity ?? DEFAULT_CALL_LOG_CAPACITY,
  );
  const closing = new AbortController();
  const server = createServer((req, res) => dispatch(state, req, res, closing.signal));
  const host = options.host ?? '127.0.0.1';
  const port = await listen(server, options.port ?? 0, host);
  const origin = `http://${urlHost(host)}:${port}`;

  return {
    baseUrl: `${origin}/v1`,
    adminUrl: `${origin}/_sim`,
    port,
    setFaults: (faults) => state.faults.set(validateFaultConfig(faults)),
    setRateLimits: (limits) => state.setRateLimits(limits === 'none' ? 'none' : validateRateLimits(limits)),
    account: (login) => {
      const i = state.store.find(login);
      return i < 0 ? undefined : state.store.view(i);
    },
    calls: (since = 0) => state.callLog.list(since, Number.MAX_SAFE_INTEGER, (id) => state.store.loginAt(id)),
    counters: () => state.counters.snapshot(),
    reset: () => state.reset(),
    close: () => close(server, closing),
  };
}

function dispatch(state: SimState, req: IncomingMessage, res: ServerResponse, closing: AbortSignal): void {
  const target = req.url ?? '/';
  const query = target.indexOf('?');
  const pathname = query === -1 ? target : target.slice(0, query);
  if (pathname === '/v1' || pathname.startsWith('/v1/')) {
    // run() answers every failure itself (500 internal for simulator bugs) and never rejects.
    void new V1Exchange(state, req, res, pathname, closing).run();
    return;
  }
  if (pathname === '/_sim' || pathname.startsWith('/_sim/')) {
    handleAdmin(state, req, res, new URL(target, 'http://sim')).catch((err: unknown) => {
      process.stderr.write(`mailstore-sim: admin error on ${req.method} ${target}: ${String(err)}\n`);
      if (!res.headersSent) sendProblem(res, new Problem(500, 'internal', String(err)));
      else res.destroy();
    });
    return;
  }
  sendProblem(res, new Problem(404, 'not_found', `no such resource: ${pathname} (the API is under /v1)`));
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Ends pending latencies and hangs, destroys every socket (idle keep-alive and hung ones), stops listening. */
function close(server: Server, closing: AbortController): Promise<void> {
  closing.abort();
  return new Promise((resolve, reject) => {
    server.close((err) =>
      err && (err as NodeJS.ErrnoException).code !== 'ERR_SERVER_NOT_RUNNING' ? reject(err) : resolve(),
    );
    server.closeAllConnections();
  });
}

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}
