import { Agent, request } from 'undici';
import { inSpan, SpanKind, tracingOn } from '@app/tracing';
import { spanOutcome } from '../call-span';
import type { SessionsResult } from '../mailstore.types';
import { retryable, type FailureOutcome } from '../outcome';

/** doveadm's exit code when nothing matched (EX_NOUSER): the user had no session, which is not a failure. */
const EX_NOUSER = 68;

export type KickResult = { ok: true; sessions: Map<string, SessionsResult> } | { ok: false; failure: FailureOutcome };

export interface DoveadmClientOptions {
  /** `http://host:port` (the API's path, /doveadm/v1, is added) or the API's full URL. */
  url: string | URL;
  /** doveadm_api_key: sent base64-encoded, never in a detail. */
  apiKey: string;
  /** One call at most this long. */
  timeoutMs: number;
  /** Other secrets to keep out of details (the apiKey always is). */
  secrets?: readonly string[];
}

/**
 * Dovecot's doveadm HTTP API (2.3: `service doveadm { inet_listener http }`, `doveadm_api_key`), used for one thing:
 * `kick` ends every session of a user, which a flag flip in the passdb does not. One POST carries one `kick`
 * command per user, each tagged with its index; the API answers `doveadmResponse` (kicked) or an `error` with
 * exit code 68 (no session) per tag (one mask per command: a list is refused with exit code 64). Kicking twice is
 * harmless, so a retry after a failure is safe. Shared by the native drivers (dovecot-sql, ldap); checked against
 * Dovecot 2.3.19.
 */
export class DoveadmClient {
  private readonly agent: Agent;
  private readonly authorization: string;
  private readonly url: URL;
  private readonly timeoutMs: number;
  private readonly secrets: string[];

  constructor(options: DoveadmClientOptions) {
    this.url = new URL(options.url);
    if (this.url.pathname === '/' || this.url.pathname === '') this.url.pathname = '/doveadm/v1';
    this.timeoutMs = options.timeoutMs;
    const encoded = Buffer.from(options.apiKey).toString('base64');
    this.authorization = `X-Dovecot-API ${encoded}`;
    this.secrets = [options.apiKey, encoded, ...(options.secrets ?? [])].filter((x) => x.length > 0);
    this.agent = new Agent({ connections: 4, connectTimeout: Math.min(options.timeoutMs, 2_000) });
  }

  /** Ends every session of these users; with tracing on, one client span (the users counted, never named). */
  kick(users: readonly string[], signal?: AbortSignal): Promise<KickResult> {
    if (users.length === 0 || !tracingOn()) return this.send(users, signal);
    const attributes = {
      'http.request.method': 'POST',
      'server.address': this.url.hostname,
      'reopen.kick.users': users.length,
    };
    return inSpan('POST doveadm kick', { kind: SpanKind.CLIENT, attributes }, async (span) => {
      const kicked = await this.send(users, signal);
      if (span) spanOutcome(span, kicked.ok ? { kind: 'ok', status: 200 } : kicked.failure, true);
      return kicked;
    });
  }

  private async send(users: readonly string[], signal?: AbortSignal): Promise<KickResult> {
    const sessions = new Map<string, SessionsResult>();
    if (users.length === 0) return { ok: true, sessions };
    const started = performance.now();
    const latency = () => Math.round(performance.now() - started);
    const body = JSON.stringify(users.map((user, i) => ['kick', { mask: [user] }, String(i)]));
    let status: number;
    let text: string;
    try {
      const res = await request(this.url, {
        method: 'POST',
        headers: { authorization: this.authorization, 'content-type': 'application/json' },
        body,
        dispatcher: this.agent,
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
        signal,
      });
      status = res.statusCode;
      text = await res.body.text();
    } catch (err) {
      const e = err as { code?: string; name?: string; message?: string };
      const detail = this.detail(`doveadm: ${e.code ?? e.name ?? 'error'} ${e.message ?? ''}`);
      if (signal?.aborted) return { ok: false, failure: retryable('aborted', undefined, false, detail, latency()) };
      const code =
        e.code === 'ECONNREFUSED'
          ? 'connection_refused'
          : /TIMEOUT/i.test(e.code ?? '')
            ? 'timeout'
            : 'connection_reset';
      return { ok: false, failure: retryable(code, undefined, false, detail, latency()) };
    }
    if (status === 401 || status === 403) {
      const code = status === 401 ? 'unauthorized' : 'forbidden';
      const detail = 'doveadm refused the API key (doveadm_api_key)';
      return { ok: false, failure: { kind: 'permanent', status, code, detail, latencyMs: latency() } };
    }
    const answers = status === 200 ? parseAnswers(text) : undefined;
    if (!answers) {
      const detail = this.detail(`doveadm answered ${status}: ${text.slice(0, 200)}`);
      return { ok: false, failure: retryable('upstream_error', undefined, false, detail, latency()) };
    }
    for (const [kind, payload, tag] of answers) {
      const user = users[Number(tag)];
      if (user === undefined) continue;
      if (kind === 'doveadmResponse') sessions.set(user, 'revoked');
      else if (kind === 'error' && (payload as { exitCode?: unknown }).exitCode === EX_NOUSER)
        sessions.set(user, 'none');
    }
    const missing = users.filter((u) => !sessions.has(u));
    if (missing.length > 0) {
      const detail = this.detail(
        `doveadm kick failed for ${missing.length} of ${users.length} users: ${text.slice(0, 200)}`,
      );
      return { ok: false, failure: retryable('upstream_error', undefined, false, detail, latency()) };
    }
    return { ok: true, sessions };
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  async destroy(): Promise<void> {
    await this.agent.destroy();
  }

  private detail(text: string): string {
    let out = text;
    for (const s of this.secrets) out = out.split(s).join('***');
    return out;
  }
}

function parseAnswers(text: string): [string, unknown, string][] | undefined {
  try {
    const body: unknown = JSON.parse(text);
    if (!Array.isArray(body)) return undefined;
    return body.filter(
      (a): a is [string, unknown, string] =>
        Array.isArray(a) && a.length === 3 && typeof a[0] === 'string' && typeof a[2] === 'string',
    );
  } catch {
    return undefined;
  }
}
