import type { IncomingMessage, ServerResponse } from 'node:http';
import { addLogins, seedStore } from '../account-seed';
import { FaultConfigError, mergeFaultConfig, validateFaultConfig } from '../fault-config';
import { readBody, sendJson, sendProblem } from '../http-io';
import { validateRateLimits } from '../rate-limiter';
import { badRequest, Problem } from '../problem';
import { accountFromPath, parseJsonObject } from '../request-validation';
import type { SimState } from '../sim-state';

/** Default and maximum page of GET /_sim/calls. */
const DEFAULT_CALLS_LIMIT = 10_000;

/**
 * The simulator's own control surface, outside /v1: no authentication (it listens on loopback by
 * default), never faulted, never rate limited, never in the call log. Tests drive faults and inspect
 * ground truth here.
 */
export async function handleAdmin(state: SimState, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  try {
    await route(state, req, res, url);
  } catch (err) {
    if (err instanceof FaultConfigError || err instanceof AdminInputError) {
      return sendProblem(res, badRequest('invalid_request', err.message));
    }
    throw err;
  }
}

class AdminInputError extends Error {}

async function route(state: SimState, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const method = req.method ?? '';
  const parts = url.pathname.split('/').slice(2); // drop '' and '_sim'
  const [first, second, third] = parts;

  if (parts.length === 1 && first === 'faults') {
    if (method === 'GET') return sendJson(res, 200, state.faults.current());
    if (method === 'PUT') {
      state.faults.set(validateFaultConfig(await jsonBody(req)));
      return sendJson(res, 200, state.faults.current());
    }
    if (method === 'PATCH') {
      state.faults.set(mergeFaultConfig(state.faults.current(), await jsonBody(req)));
      return sendJson(res, 200, state.faults.current());
    }
    return notAllowed(res, method, 'GET, PUT, PATCH');
  }
  if (first === 'accounts') {
    if (parts.length === 1) {
      if (method !== 'POST') return notAllowed(res, method, 'POST');
      const { accounts } = (await jsonBody(req)) as { accounts?: unknown };
      if (!Array.isArray(accounts)) throw new AdminInputError('accounts must be a list of logins');
      const added = guard(() => addLogins(state.store, accounts));
      return sendJson(res, 200, { added, total: state.store.size });
    }
    const account = accountFromPath(second);
    if (account instanceof Problem) return sendProblem(res, account);
    const i = state.store.find(account);
    const unknown = (): void =>
      sendProblem(res, new Problem(404, 'account_not_found', `no account ${JSON.stringify(account)}`));
    if (parts.length === 2 && method === 'GET') {
      if (i < 0) return unknown();
      return sendJson(res, 200, { account, ...state.store.view(i) });
    }
    if (parts.length === 3 && third === 'sessions' && method === 'POST') {
      const { count } = (await jsonBody(req)) as { count?: unknown };
      if (!Number.isSafeInteger(count) || (count as number) < 0 || (count as number) > 0xffffffff) {
        throw new AdminInputError('count must be a non-negative integer');
      }
      if (i < 0) return unknown();
      state.store.sessions[i] = count as number;
      return sendJson(res, 200, { account, ...state.store.view(i) });
    }
    if (parts.length === 2) return notAllowed(res, method, 'GET');
    if (parts.length === 3 && third === 'sessions') return notAllowed(res, method, 'POST');
    return sendProblem(res, new Problem(404, 'not_found', `no such resource: ${url.pathname}`));
  }
  if (parts.length !== 1) return sendProblem(res, new Problem(404, 'not_found', `no such resource: ${url.pathname}`));
  if (first === 'reset') {
    if (method !== 'POST') return notAllowed(res, method, 'POST');
    const body = await optionalJsonBody(req);
    const reseed = body as { accounts?: unknown; accountsCsv?: unknown } | undefined;
    let store;
    if (reseed && (reseed.accounts !== undefined || reseed.accountsCsv !== undefined)) {
      const { accounts, accountsCsv } = reseed;
      if (accountsCsv !== undefined && typeof accountsCsv !== 'string')
        throw new AdminInputError('accountsCsv must be a path');
      if (accounts !== undefined && typeof accounts !== 'number' && !Array.isArray(accounts)) {
        throw new AdminInputError('accounts must be a count or a list of logins');
      }
      store = await guardAsync(() => seedStore({ accounts: accounts as number | string[] | undefined, accountsCsv }));
    }
    state.reset(store);
    return sendJson(res, 200, { reset: true, accounts: state.store.size, lastSeq: state.callLog.lastSeq });
  }
  if (first === 'rate-limits') {
    // {"rateLimits": {...} | "none"}: what capabilities advertise and the budgets enforce from now on.
    if (method === 'GET')
      return sendJson(res, 200, { rateLimits: state.limiter.enabled ? state.limiter.advertised : 'none' });
    if (method !== 'PUT') return notAllowed(res, method, 'GET, PUT');
    const { rateLimits } = await jsonBody(req);
    state.setRateLimits(rateLimits === 'none' ? 'none' : guard(() => validateRateLimits(rateLimits)));
    return sendJson(res, 200, { rateLimits: state.limiter.enabled ? state.limiter.advertised : 'none' });
  }
  if (first === 'counters') {
    return method === 'GET' ? sendJson(res, 200, state.counters.snapshot()) : notAllowed(res, method, 'GET');
  }
  if (first === 'calls') {
    if (method === 'DELETE') {
      state.callLog.clear();
      return sendJson(res, 200, { cleared: true, lastSeq: state.callLog.lastSeq });
    }
    if (method !== 'GET') return notAllowed(res, method, 'GET, DELETE');
    const since = integerParam(url, 'since', 0);
    const limit = integerParam(url, 'limit', DEFAULT_CALLS_LIMIT);
    if (limit < 1) throw new AdminInputError('limit must be >= 1');
    const calls = state.callLog.list(since, limit, (id) => state.store.loginAt(id));
    return sendJson(res, 200, { calls, lastSeq: state.callLog.lastSeq });
  }
  if (first === 'stats') {
    if (method !== 'GET') return notAllowed(res, method, 'GET');
    const memory = process.memoryUsage();
    const cpu = process.cpuUsage();
    return sendJson(res, 200, {
      accounts: state.store.size,
      idempotencyKeys: state.idempotency.size,
      lastSeq: state.callLog.lastSeq,
      rssMb: Math.round(memory.rss / 2 ** 20),
      heapUsedMb: Math.round(memory.heapUsed / 2 ** 20),
      // CPU the process used so far: benchmarks on a shared machine divide work by it, not by wall time.
      cpuMs: Math.round((cpu.user + cpu.system) / 1000),
    });
  }
  return sendProblem(res, new Problem(404, 'not_found', `no such resource: ${url.pathname}`));
}

async function jsonBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const body = await optionalJsonBody(req);
  if (body === undefined) throw new AdminInputError('a JSON object body is required');
  return body;
}

async function optionalJsonBody(req: IncomingMessage): Promise<Record<string, unknown> | undefined> {
  const raw = await readBody(req);
  if (raw === 'too_large') throw new AdminInputError('body too large');
  if (raw.length === 0) return undefined;
  const body = parseJsonObject(raw, undefined);
  if (body instanceof Problem) throw new AdminInputError(body.detail);
  return body;
}

function integerParam(url: URL, name: string, fallback: number): number {
  const raw = url.searchParams.get(name);
  if (raw === null || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) throw new AdminInputError(`${name} must be a non-negative integer`);
  return Number(raw);
}

/** Turns validation errors of shared helpers (plain Errors with a message) into 400s. */
function guard<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw new AdminInputError((err as Error).message);
  }
}

async function guardAsync<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw new AdminInputError((err as Error).message);
  }
}

function notAllowed(res: ServerResponse, method: string, allow: string): void {
  sendProblem(
    res,
    new Problem(405, 'method_not_allowed', `${method} is not allowed here (allowed: ${allow})`, {}, { allow }),
  );
}
