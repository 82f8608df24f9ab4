import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';

/**
 * A deliberately plain HTTP client for the contract suite: it speaks only the contract (no simulator
 * types), and it follows the contract's client rules for 429/503 (wait Retry-After plus 0-20 % jitter,
 * same request, same key) so the suite runs against a gateway with real rate limits.
 */

/** Response bodies are arbitrary JSON; the suite checks their shape with expect(). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

export interface ContractResponse {
  status: number;
  headers: Record<string, string>;
  body: Json;
  text: string;
}

export interface ContractCall {
  body?: unknown;
  /** Sent as is, as application/json (for malformed JSON). */
  rawBody?: string;
  /** null: no Authorization header. */
  token?: string | null;
  idempotencyKey?: string;
  headers?: Record<string, string>;
  /** Retry 429/503 after Retry-After (default true). Off where the 429 itself is under test. */
  followRetryAfter?: boolean;
  signal?: AbortSignal;
}

const MAX_RETRIES = 8;
const MAX_WAIT_SECONDS = 30;

export class ContractHttp {
  private readonly agent = new Agent({ connections: 8 });

  constructor(
    /** …/v1 */
    readonly baseUrl: string,
    readonly token: string,
  ) {}

  async call(method: string, path: string, options: ContractCall = {}): Promise<ContractResponse> {
    for (let attempt = 0; ; attempt++) {
      const res = await this.once(method, path, options);
      const retryable = res.status === 429 || res.status === 503;
      if (!retryable || options.followRetryAfter === false || attempt >= MAX_RETRIES) return res;
      const seconds = Number(res.headers['retry-after']);
      if (!Number.isInteger(seconds) || seconds < 0 || seconds > MAX_WAIT_SECONDS) return res; // let the test see it
      await sleep(seconds * 1000 * (1 + Math.random() * 0.2));
    }
  }

  get(path: string, options?: ContractCall): Promise<ContractResponse> {
    return this.call('GET', path, options);
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  private async once(method: string, path: string, options: ContractCall): Promise<ContractResponse> {
    const token = options.token === undefined ? this.token : options.token;
    const headers: Record<string, string> = { ...(options.headers ?? {}) };
    if (token !== null) headers.authorization = `Bearer ${token}`;
    if (options.idempotencyKey !== undefined) headers['idempotency-key'] = options.idempotencyKey;
    const body = options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await request(this.baseUrl + path, {
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
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined; // the suite then fails on the shape, with `text` in the message
    }
    return { status: res.statusCode, headers: flat, body: parsed, text };
  }
}

/** `/accounts/{account}/access` with the account URL-encoded, as the contract says. */
export function accessPath(account: string): string {
  return `/accounts/${encodeURIComponent(account)}/access`;
}

export function sessionsPath(account: string): string {
  return `/accounts/${encodeURIComponent(account)}/sessions`;
}

let keySeq = 0;
/** A fresh Idempotency-Key, unique across runs. */
export function freshKey(label: string): string {
  return `contract/${label}/${Date.now().toString(36)}-${process.pid}-${++keySeq}`;
}
