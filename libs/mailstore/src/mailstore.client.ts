import { currentTraceCarrier, tracingOn } from '@app/tracing';
import { callSpan } from './call-span';
import { batchSizeLimit, checkCapabilities, propagationDelayMs } from './capabilities';
import { HttpTransport, type TransportRequest } from './http-transport';
import type {
  AccessRead,
  BatchItem,
  BatchOptions,
  BatchResult,
  CallOptions,
  Capabilities,
  MailstoreClientOptions,
  PatchAccessRequest,
  PatchAccessResult,
  PatchOptions,
  RevokeSessionsResult,
  WriteOptions,
} from './mailstore.types';
import { outcomeFromResponse, retryable, type Outcome } from './outcome';
import {
  checkAccessState,
  checkBatchResult,
  checkPatchResult,
  checkRevokeResult,
  parseProblem,
} from './response-guards';
import type { Checked } from './response-guards';
import { failureReason, type Mailstore, type Probe } from './mailstore';
import { validateClientOptions, validateIdempotencyKey, type ResolvedClientOptions } from './client-options';

type Check<T> = (body: unknown, headers: Record<string, string | string[] | undefined>) => Checked<T>;

/**
 * The provisioning-contract client. Each method makes ONE HTTP attempt and returns an `Outcome`; it never
 * throws for HTTP or network failures (only for caller bugs: a bad option or idempotency key). Wrap calls in
 * `withRetries` with a closure that captures the idempotency key.
 *
 * The client does not pace: the engine's shared Redis throttle (libs/core Throttle) sets the rate for every process.
 */
export class MailstoreClient implements Mailstore {
  /** The contract's version goes up at every change. */
  readonly versionsNameWrites = true;
  private readonly options: ResolvedClientOptions;
  private readonly transport: HttpTransport;
  private caps: Capabilities | undefined;
  private capsInFlight: Promise<Outcome<Capabilities>> | undefined;

  constructor(options: MailstoreClientOptions) {
    this.options = validateClientOptions(options);
    this.transport = new HttpTransport(this.options);
  }

  /** `GET /v1/capabilities`, cached after the first success. */
  async capabilities(opts: CallOptions = {}): Promise<Outcome<Capabilities>> {
    if (this.caps) return { kind: 'ok', status: 200, value: this.caps, latencyMs: 0, replayed: false };
    return this.refreshCapabilities(opts);
  }

  /** Reads capabilities again (concurrent callers share one request). */
  async refreshCapabilities(opts: CallOptions = {}): Promise<Outcome<Capabilities>> {
    this.capsInFlight ??= this.fetchCapabilities(opts).finally(() => (this.capsInFlight = undefined));
    return this.capsInFlight;
  }

  /** The contract's capabilities, read afresh (they need the token, so a wrong MAILSTORE_TOKEN shows here too). */
  async probe(opts: CallOptions = {}): Promise<Probe> {
    const read = await this.refreshCapabilities(opts);
    return read.kind === 'ok'
      ? { up: true }
      : { up: false, part: 'mailstore', reason: `capabilities: ${failureReason(read)}` };
  }

  /** The capabilities last read, if any. */
  cachedCapabilities(): Capabilities | undefined {
    return this.caps;
  }

  /** Items per batch: min(maxBatchItems, accountUpdateBurst). Needs capabilities. */
  batchSizeLimit(): number {
    return batchSizeLimit(this.requireCaps());
  }

  /** Wait before verifying a write by GET: 0 for immediate propagation. Needs capabilities. */
  propagationDelayMs(): number {
    return propagationDelayMs(this.requireCaps());
  }

  /** `GET /v1/accounts/{account}/access`; `etag` is the version to send back as `ifMatch`. */
  async getAccess(account: string, opts: CallOptions = {}): Promise<Outcome<AccessRead>> {
    return this.call({ method: 'GET', path: accessPath(account), route: ACCESS_ROUTE }, opts, (body, headers) => {
      const state = checkAccessState(body, account);
      if (!state.ok) return state;
      return { ok: true, value: { ...state.value, etag: parseEtag(headers.etag) ?? state.value.version } };
    });
  }

  /** `PATCH /v1/accounts/{account}/access` with the desired state; only the protocols sent are touched. */
  async patchAccess(account: string, req: PatchAccessRequest, opts: PatchOptions): Promise<Outcome<PatchAccessResult>> {
    const body: Record<string, unknown> = { protocols: req.protocols };
    if (req.revokeSessions !== undefined) body.revokeSessions = req.revokeSessions;
    if (req.reason !== undefined) body.reason = req.reason;
    const extra: Record<string, string> = {};
    if (opts.ifMatch !== undefined) extra['if-match'] = `"${opts.ifMatch}"`;
    return this.call({ method: 'PATCH', path: accessPath(account), route: ACCESS_ROUTE, body, extra }, opts, (b) =>
      checkPatchResult(b, account),
    );
  }

  /**
   * `POST /v1/access/batch`. Each item stands alone; `results[i]` answers `items[i]`. An answer that does not
   * line up with the items is `retryable`/`protocol_error` with `outcomeUnknown: true`: nothing can be said
   * about which items were applied, so retry with the same key (the server replays its stored answer).
   */
  async batch(items: readonly BatchItem[], batchOpts: BatchOptions, opts: WriteOptions): Promise<Outcome<BatchResult>> {
    const body: Record<string, unknown> = {
      // Copied field by field: callers may pass richer records, and only the contract's fields are sent.
      items: items.map(({ account, protocols, ifVersion }) =>
        ifVersion === undefined ? { account, protocols } : { account, protocols, ifVersion },
      ),
    };
    if (batchOpts.revokeSessions !== undefined) body.revokeSessions = batchOpts.revokeSessions;
    if (batchOpts.reason !== undefined) body.reason = batchOpts.reason;
    return this.call({ method: 'POST', path: '/access/batch', body, items: items.length }, opts, (b) =>
      checkBatchResult(b, items),
    );
  }

  /** `DELETE /v1/accounts/{account}/sessions`. */
  async revokeSessions(account: string, opts: WriteOptions): Promise<Outcome<RevokeSessionsResult>> {
    const path = `/accounts/${encodeURIComponent(account)}/sessions`;
    return this.call({ method: 'DELETE', path, route: '/accounts/{account}/sessions' }, opts, (b) =>
      checkRevokeResult(b, account),
    );
  }

  /** Waits for in-flight requests, then closes the pool. */
  async close(): Promise<void> {
    await this.transport.close();
  }

  /** Aborts in-flight requests (their outcome: `retryable`/`aborted`) and closes the pool. */
  async destroy(): Promise<void> {
    await this.transport.destroy();
  }

  private async fetchCapabilities(opts: CallOptions): Promise<Outcome<Capabilities>> {
    const outcome = await this.call({ method: 'GET', path: '/capabilities' }, opts, (b) =>
      b === undefined ? { ok: false, reason: 'capabilities are not JSON' } : { ok: true, value: b },
    );
    if (outcome.kind !== 'ok') return outcome;
    const checked = checkCapabilities(outcome.value);
    if (!checked.ok) {
      const { status, latencyMs } = outcome;
      return { kind: 'permanent', status, code: 'invalid_capabilities', detail: checked.reason, latencyMs };
    }
    this.caps = checked.value;
    return { ...outcome, value: checked.value };
  }

  private requireCaps(): Capabilities {
    if (!this.caps) throw new Error('MailstoreClient: capabilities not loaded; call capabilities() first');
    return this.caps;
  }

  /**
   * With tracing on, each call is a CLIENT span (child of the job's span in the worker) named after the contract's
   * route, never the account in the path; its ids are the batch key (`Idempotency-Key`) and the attempt's X-Request-Id,
   * and its context goes to the mailstore as `traceparent`.
   */
  private call<T>(
    req: CallRequest,
    opts: CallOptions & { idempotencyKey?: string },
    check: Check<T>,
  ): Promise<Outcome<T>> {
    if (!tracingOn()) return this.attempt(req, opts, check, undefined); // nothing built for a span when off
    const route = `${this.options.baseUrl.pathname.replace(/\/+$/, '')}${req.route ?? req.path}`;
    const attributes: Record<string, string | number> = {
      'http.request.method': req.method,
      'url.template': route,
      'server.address': this.options.baseUrl.hostname,
    };
    if (opts.idempotencyKey !== undefined) attributes['reopen.idempotency_key'] = opts.idempotencyKey;
    if (opts.requestId !== undefined) attributes['reopen.request_id'] = opts.requestId;
    if (req.items !== undefined) attributes['reopen.batch.items'] = req.items;
    return callSpan(`${req.method} ${route}`, attributes, (traced) =>
      this.attempt(req, opts, check, traced ? currentTraceCarrier() : undefined),
    );
  }

  private async attempt<T>(
    req: CallRequest,
    opts: CallOptions & { idempotencyKey?: string },
    check: Check<T>,
    trace: Record<string, string> | undefined,
  ): Promise<Outcome<T>> {
    const isWrite = req.method !== 'GET';
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.options.token}`,
      accept: 'application/json, application/problem+json',
      'user-agent': this.options.userAgent,
      ...req.extra,
      ...trace,
    };
    if (isWrite) headers['idempotency-key'] = validateIdempotencyKey(opts.idempotencyKey);
    if (opts.requestId !== undefined) headers['x-request-id'] = opts.requestId;
    if (req.body !== undefined) headers['content-type'] = 'application/json';

    const result = await this.transport.send({
      method: req.method,
      path: req.path,
      headers,
      body: req.body === undefined ? undefined : JSON.stringify(req.body),
      signal: opts.signal,
      sendBy: opts.sendBy,
    });
    if (result.type === 'failure') return result.outcome;

    const { status, headers: resHeaders, body, latencyMs } = result;
    if (status >= 200 && status < 300) {
      const checked = check(body, resHeaders);
      if (!checked.ok) return retryable('protocol_error', undefined, isWrite, checked.reason, latencyMs);
      const replayed = String(resHeaders['idempotent-replayed'] ?? '').toLowerCase() === 'true';
      return { kind: 'ok', status, value: checked.value, latencyMs, replayed };
    }
    const outcome = outcomeFromResponse({
      status,
      retryAfter: resHeaders['retry-after'],
      problem: parseProblem(body),
      isWrite,
      latencyMs,
    });
    return outcome;
  }
}

interface CallRequest {
  method: TransportRequest['method'];
  /** Below the base path, encoded. */
  path: string;
  /** The contract's route when the path names an account (spans never carry logins). */
  route?: string;
  body?: unknown;
  extra?: Record<string, string>;
  /** Items of a batch call, for its span. */
  items?: number;
}

const ACCESS_ROUTE = '/accounts/{account}/access';

function accessPath(account: string): string {
  return `/accounts/${encodeURIComponent(account)}/access`;
}

/** `"7"`, `W/"7"` or `7` → 7; anything else → undefined. */
function parseEtag(value: string | string[] | undefined): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  const match = raw === undefined ? null : /^\s*(?:W\/)?"?(\d{1,15})"?\s*$/.exec(raw);
  return match ? Number(match[1]) : undefined;
}
