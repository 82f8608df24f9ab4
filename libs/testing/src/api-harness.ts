import type { SimulatorOptions } from '@app/mailstore-sim';
import { ApiKeyService } from '@app/core';
import type { ApiRole } from '@app/db';
import { ApiProcess, ensureFreshBuild, startApiProcess } from './api-process';
import { createEngineHarness, EngineHarness } from './engine-harness';

/** One key per role, a revoked one, and a second ops key (`ops2`: two-person approval, docs/approvals.md). */
export type KeyName = ApiRole | 'revoked' | 'ops2';
const ROLE_NAMES: readonly ApiRole[] = ['ops', 'support', 'viewer', 'signals'];

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any route's JSON; tests assert on its shape
export interface ApiResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export interface CallOptions {
  /** Which key to send (default ops); null sends none. */
  key?: KeyName | null;
  /** JSON-encoded, with Content-Type application/json unless headers say otherwise. */
  body?: unknown;
  /** Sent as is. */
  raw?: string | Buffer;
  headers?: Record<string, string>;
  /** Another API process of the harness. */
  origin?: string;
  /** Abort the request (the call rejects with a TimeoutError) when the answer takes longer: a hang fails fast. */
  timeoutMs?: number;
}

export interface ApiHarness {
  h: EngineHarness;
  api: ApiProcess;
  secrets: Record<KeyName, string>;
  keyNames: Record<KeyName, string>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- as ApiResponse
  call<T = any>(method: string, path: string, options?: CallOptions): Promise<ApiResponse<T>>;
  /** Another API process on the same database and Redis (as in production behind a load balancer). */
  startAnotherApi(env?: Record<string, string>): Promise<ApiProcess>;
  close(): Promise<void>;
}

/**
 * The built API as a child process (its real entry point, environment validation and shutdown) over an engine
 * harness: a fresh PostgreSQL database, a Redis prefix, the simulator over HTTP and, when asked, an in-process
 * worker. One key per role, a second ops key and a revoked one. Tests talk to it over real HTTP with fetch.
 */
export async function startApiHarness(
  label: string,
  options: {
    accounts?: number;
    sim?: SimulatorOptions;
    worker?: boolean;
    /** The API process's own environment (API_* settings). */
    env?: Record<string, string>;
    /** The engine's environment, seen by the worker and the API alike (e.g. GATE_INTERVAL_MS). */
    engineEnv?: Record<string, string>;
  } = {},
): Promise<ApiHarness> {
  ensureFreshBuild();
  const h = await createEngineHarness(label, { accounts: options.accounts ?? 100, ...options.sim }, options.engineEnv);
  const processes: ApiProcess[] = [];
  const start = async (env: Record<string, string>) => {
    const p = await startApiProcess({ ...h.env, ...options.env, ...env });
    processes.push(p);
    return p;
  };
  try {
    if (options.worker) await h.startWorker();
    const api = await start({});
    // Keys are the owner's to make (the CLI's create-api-key); the API's role may only verify them.
    const keys = new ApiKeyService(h.db.owner);
    const secrets = {} as Record<KeyName, string>;
    const keyNames = {} as Record<KeyName, string>;
    for (const role of ROLE_NAMES) {
      const key = await keys.create(role, `${role}-${label}`);
      secrets[role] = key.secret;
      keyNames[role] = key.name;
    }
    const second = await keys.create('ops', `ops2-${label}`);
    secrets.ops2 = second.secret;
    keyNames.ops2 = second.name;
    const revoked = await keys.create('ops', `revoked-${label}`);
    await keys.revoke(revoked.id, 'test');
    secrets.revoked = revoked.secret;
    keyNames.revoked = revoked.name;

    return {
      h,
      api,
      secrets,
      keyNames,
      call: async <T>(method: string, path: string, o: CallOptions = {}) => {
        const headers: Record<string, string> = { ...o.headers };
        const key = o.key === undefined ? 'ops' : o.key;
        if (key) headers.authorization = `Bearer ${secrets[key]}`;
        let body: string | Buffer | undefined = o.raw;
        if (o.body !== undefined) {
          body = JSON.stringify(o.body);
          headers['content-type'] ??= 'application/json';
        }
        const signal = o.timeoutMs === undefined ? undefined : AbortSignal.timeout(o.timeoutMs);
        const res = await fetch(`${o.origin ?? api.origin}/api/v1${path}`, { method, headers, body, signal });
        const text = await res.text();
        const json = /json/.test(res.headers.get('content-type') ?? '') && text !== '';
        return { status: res.status, headers: res.headers, body: (json ? JSON.parse(text) : text) as T, text };
      },
      startAnotherApi: (env = {}) => start(env),
      close: async () => {
        for (const p of processes) await p.stop();
        await h.close();
      },
    };
  } catch (err) {
    for (const p of processes) await p.stop();
    await h.close();
    throw err;
  }
}
