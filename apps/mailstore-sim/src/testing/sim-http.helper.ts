import { Agent, request } from 'undici';
import { DEFAULT_TOKEN } from '../sim-state';
import type { FaultConfig } from '../sim.types';

/**
 * Real HTTP against a running simulator, for the integration specs. Every call has its own short-lived
 * client state except the keep-alive Agent, which `close()` ends.
 */

/**
 * What a response body parses to. `any` on purpose: specs assert on the JSON's shape with expect(), which
 * is the type check here, and casting every field in every spec would add noise, not safety.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

export interface HttpResult<T = Json> {
  status: number;
  headers: Record<string, string>;
  /** Parsed JSON, or undefined for an empty body. */
  body: T;
  text: string;
}

export interface CallOptions {
  body?: unknown;
  /** Sent as is (for malformed JSON and odd content types). */
  rawBody?: string;
  /** null sends no Authorization header. */
  token?: string | null;
  idempotencyKey?: string;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export type Protocols = { imap?: boolean; pop3?: boolean };

export interface BatchItemInput {
  account: unknown;
  protocols?: unknown;
  ifVersion?: unknown;
}

/** A batch item builder: `item('user1@example.test', { imap: true })`. */
export function item(account: string, protocols: Protocols, ifVersion?: number): BatchItemInput {
  return ifVersion === undefined ? { account, protocols } : { account, protocols, ifVersion };
}

let keySeq = 0;
/** A fresh Idempotency-Key. */
export function newKey(label = 'k'): string {
  return `${label}-${process.pid}-${Date.now().toString(36)}-${++keySeq}`;
}

export function accountPath(account: string, tail: 'access' | 'sessions' = 'access'): string {
  return `/accounts/${encodeURIComponent(account)}/${tail}`;
}

export class SimHttp {
  private readonly agent = new Agent({ connections: 16 });

  constructor(
    /** http://host:port/v1 */
    readonly baseUrl: string,
    readonly token: string = DEFAULT_TOKEN,
  ) {}

  get adminUrl(): string {
    return this.baseUrl.replace(/\/v1$/, '/_sim');
  }

  /** A /v1 call (`path` relative to the base URL). */
  call<T = Json>(method: string, path: string, options: CallOptions = {}): Promise<HttpResult<T>> {
    const token = options.token === undefined ? this.token : options.token;
    const headers: Record<string, string> = { ...(options.headers ?? {}) };
    if (token !== null) headers.authorization = `Bearer ${token}`;
    if (options.idempotencyKey !== undefined) headers['idempotency-key'] = options.idempotencyKey;
    return this.send<T>(method, this.baseUrl + path, headers, options);
  }

  capabilities(options?: CallOptions): Promise<HttpResult> {
    return this.call('GET', '/capabilities', options);
  }

  get(account: string, options?: CallOptions): Promise<HttpResult> {
    return this.call('GET', accountPath(account), options);
  }

  patch(account: string, body: unknown, options: CallOptions = {}): Promise<HttpResult> {
    return this.call('PATCH', accountPath(account), { ...options, body });
  }

  /** A batch with a fresh Idempotency-Key unless one is given. */
  batch(items: unknown[], extra: Record<string, unknown> = {}, options: CallOptions = {}): Promise<HttpResult> {
    return this.call('POST', '/access/batch', {
      idempotencyKey: newKey('batch'),
      ...options,
      body: { items, ...extra },
    });
  }

  revoke(account: string, options?: CallOptions): Promise<HttpResult> {
    return this.call('DELETE', accountPath(account, 'sessions'), options);
  }

  /** An admin call (`path` relative to /_sim). */
  admin<T = Json>(method: string, path: string, body?: unknown): Promise<HttpResult<T>> {
    return this.send<T>(method, this.adminUrl + path, {}, { body });
  }

  setFaults(faults: FaultConfig): Promise<HttpResult> {
    return this.admin('PUT', '/faults', faults);
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  private async send<T>(
    method: string,
    url: string,
    headers: Record<string, string>,
    options: CallOptions,
  ): Promise<HttpResult<T>> {
    let body: string | undefined = options.rawBody;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await request(url, {
      method: method as 'GET',
      headers,
      body,
      dispatcher: this.agent,
      signal: options.signal,
    });
    const text = await res.body.text();
    const flat: Record<string, string> = {};
    for (const [name, value] of Object.entries(res.headers)) {
      if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    return { status: res.statusCode, headers: flat, body: (text === '' ? undefined : JSON.parse(text)) as T, text };
  }
}
