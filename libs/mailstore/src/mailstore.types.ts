/**
 * Shapes of the provisioning contract v1 (docs/provisioning-contract.md), as the client hands them to callers.
 * Everything here has been checked by the guards in response-guards.ts / capabilities.ts: values are
 * trustworthy in type, not in meaning (the mailstore is still the authority).
 */

export type Protocol = 'imap' | 'pop3';

/** Desired (write) or observed (read) protocol switches. A write only touches the protocols it names. */
export interface ProtocolSwitches {
  imap?: boolean;
  pop3?: boolean;
}

export interface AccessState {
  account: string;
  protocols: ProtocolSwitches;
  /** Goes up only when something actually changed. */
  version: number;
  /** ISO-8601 timestamp as sent by the mailstore. */
  updatedAt: string;
}

/** GET access: the state plus the version to send back as `If-Match` (ETag, or `version` when absent). */
export interface AccessRead extends AccessState {
  etag: number;
}

export type SessionsResult = 'revoked' | 'none';

/** PATCH access: the new state, whether it changed, and what happened to sessions when asked. */
export interface PatchAccessResult extends AccessState {
  changed: boolean;
  sessions?: SessionsResult;
}

export interface RevokeSessionsResult {
  account: string;
  sessions: SessionsResult;
}

export interface PatchAccessRequest {
  /** The state you want (never a toggle), so a replay changes nothing. */
  protocols: ProtocolSwitches;
  revokeSessions?: boolean;
  reason?: string;
}

export interface BatchItem {
  account: string;
  protocols: ProtocolSwitches;
  /** Apply only if the account is still at this version (rollback: never clobber a support change). */
  ifVersion?: number;
}

export interface BatchOptions {
  /** Revokes sessions only for items where a protocol went from on to off. */
  revokeSessions?: boolean;
  reason?: string;
}

export const BATCH_ITEM_STATUSES = ['applied', 'unchanged', 'not_found', 'invalid', 'conflict'] as const;
export type BatchItemStatus = (typeof BATCH_ITEM_STATUSES)[number];

export interface BatchItemResult {
  account: string;
  status: BatchItemStatus;
  protocols?: ProtocolSwitches;
  previous?: ProtocolSwitches;
  version?: number;
  updatedAt?: string;
  error?: { code: string; detail?: string };
  sessions?: SessionsResult;
}

export interface BatchSummary {
  applied: number;
  unchanged: number;
  /** not_found + invalid + conflict. */
  failed: number;
}

export interface BatchResult {
  batchId?: string;
  /** Counted by the client from `results` (the per-item truth), not copied from the server's summary. */
  summary: BatchSummary;
  /** `results[i]` answers `items[i]` (checked by the client). */
  results: BatchItemResult[];
}

export interface RateLimits {
  requestsPerSecond: number;
  requestBurst: number;
  accountUpdatesPerSecond: number;
  accountUpdateBurst: number;
}

export interface Propagation {
  mode: 'immediate' | 'eventual';
  /** Upper bound after which a change is guaranteed visible (0 for immediate). */
  maxSeconds: number;
}

export interface Capabilities {
  protocols: Protocol[];
  maxBatchItems: number;
  revokeSessions: boolean;
  conditionalUpdates: boolean;
  idempotencyKeyTtlSeconds: number;
  propagation: Propagation;
  rateLimits: RateLimits;
}

/** Per-call options shared by every method. */
export interface CallOptions {
  /** Sent as `X-Request-Id` (passed to provider logs). */
  requestId?: string;
  /** Aborts the HTTP exchange; the outcome is then `retryable`/`aborted`. */
  signal?: AbortSignal;
  /**
   * The request is written before this instant (`performance.now()` clock) or not at all: the outcome is then
   * `retryable`/`send_window_missed`, and nothing left the machine.
   */
  sendBy?: number;
}

/** Every write carries a key; reuse it on every retry of the same logical operation. */
export interface WriteOptions extends CallOptions {
  idempotencyKey: string;
  /**
   * An earlier attempt under this key may have applied the write (the engine's `wave_batches.in_doubt`, the support
   * lane's retry after an answer in doubt). A driver that keeps nothing per key then does again what such an attempt
   * may have left undone: the native drivers kick every item whose desired state turns a protocol off
   * (drivers/session-kicks.ts). The HTTP contract answers a replay from its own idempotency store: not sent.
   */
  inDoubt?: boolean;
}

export interface PatchOptions extends WriteOptions {
  /** Optimistic concurrency: `If-Match: "<version>"` → 412 version_mismatch when it moved. */
  ifMatch?: number;
}

export interface MailstoreClientOptions {
  /** Base URL ending in `/v1`, e.g. `http://127.0.0.1:8025/v1`. */
  baseUrl: string;
  token: string;
  /** Keep-alive connections to the mailstore (default 16). */
  connections?: number;
  /** TCP/TLS connect timeout (default 2 000 ms). */
  connectTimeoutMs?: number;
  /** Whole exchange, headers and body (default 10 000 ms): a hung server becomes `retryable`/`timeout`. */
  requestTimeoutMs?: number;
  /** Larger responses are aborted and reported as `protocol_error` (default 4 MiB). */
  maxResponseBytes?: number;
  userAgent?: string;
}
