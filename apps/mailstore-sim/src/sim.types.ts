/**
 * Public shapes of the mailstore simulator: its options, the fault configuration, the call log and the
 * handle returned by startSimulator. The wire shapes of the contract itself live with the handlers.
 */

export const SCOPES = ['access:read', 'access:write', 'sessions:revoke'] as const;
export type Scope = (typeof SCOPES)[number];

/** The /v1 endpoints, as named in the call log and counters; 'other' is an unroutable /v1 request. */
export type Endpoint = 'capabilities' | 'get' | 'patch' | 'batch' | 'sessions' | 'other';

/** Endpoints a fault can be restricted to (FaultConfig.endpoints). */
export const FAULT_ENDPOINTS = ['batch', 'patch', 'get', 'sessions', 'capabilities'] as const;
export type FaultEndpoint = (typeof FAULT_ENDPOINTS)[number];

export const FAULT_KINDS = ['429', '503', '500', 'hang', 'drop_after_apply', 'ok'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** The contract's two budgets per credential (capabilities.rateLimits). */
export interface RateLimits {
  requestsPerSecond: number;
  requestBurst: number;
  accountUpdatesPerSecond: number;
  accountUpdateBurst: number;
}

export interface Propagation {
  mode: 'immediate' | 'eventual';
  maxSeconds: number;
}

/**
 * Fault injection. Probabilistic faults (rate*) and `script` apply only to `endpoints` (default: all but
 * capabilities); account lists and `unreachable` apply everywhere in /v1. Admin routes are never faulted.
 */
export interface FaultConfig {
  /** Added before every eligible request is processed (including injected error answers). */
  latencyMs?: number;
  /** Uniform extra 0..latencyJitterMs. */
  latencyJitterMs?: number;
  rate429?: number;
  rate503?: number;
  rate500?: number;
  /** Never answers; the socket is destroyed after hangMs. Nothing is applied. */
  rateHang?: number;
  /** Applies the change, stores the 200 under the idempotency key, then destroys the socket unanswered. */
  rateDropAfterApply?: number;
  /** Retry-After of injected 429/503 (default 1). */
  retryAfterSeconds?: number;
  /** How long a hang lasts before the socket is destroyed (default 60000). */
  hangMs?: number;
  /** Every /v1 request has its connection destroyed at once, unanswered (admin routes keep working). */
  unreachable?: boolean;
  notFoundAccounts?: string[];
  /** Batch items with `ifVersion` and PATCHes with `If-Match` on these accounts always conflict. */
  conflictAccounts?: string[];
  endpoints?: FaultEndpoint[];
  /** Consumed one per eligible request before the rates are drawn. */
  script?: FaultKind[];
  /** Seed of the PRNG that draws the rates (default: random). */
  seed?: number;
}

/** One /v1 request as the simulator saw it. */
export interface CallLogEntry {
  seq: number;
  /** Epoch milliseconds (fractional). */
  startedAt: number;
  /** Null while the request is still being processed. */
  endedAt: number | null;
  method: string;
  endpoint: Endpoint;
  path: string;
  accounts: string[];
  idempotencyKey: string | null;
  requestId: string | null;
  /** HTTP status sent, or 0 when nothing was sent (dropped, hung, unreachable, client gone, pending). */
  status: number;
  /** 'ok', 'replayed', a problem code ('rate_limited', 'version_mismatch', ...), or 'hang',
   * 'dropped_after_apply', 'unreachable', 'client_closed', 'pending'. */
  outcome: string;
  /** Accounts whose state this request actually changed. */
  applied: string[];
}

export interface AccountView {
  protocols: { imap: boolean; pop3: boolean };
  version: number;
  updatedAt: string;
  sessions: number;
}

export interface SimulatorOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 = a random free port (default). */
  port?: number;
  /** token -> scopes; default { 'sim-token': every scope }. */
  tokens?: Record<string, string[]>;
  /** A count (user1@example.test ... userN@example.test) or explicit logins. Default 1000 when no CSV. */
  accounts?: number | string[];
  /** CSV with header login,cohorts,leaked,password_changed_at (only login is read). */
  accountsCsv?: string;
  /** Default: the contract's example (20 req/s burst 40, 200 updates/s burst 500); 'none' disables. */
  rateLimits?: RateLimits | 'none';
  propagation?: Propagation;
  maxBatchItems?: number;
  revokeSessions?: boolean;
  conditionalUpdates?: boolean;
  faults?: FaultConfig;
  /** Ring buffer size of the call log (default 2,000,000). */
  callLogCapacity?: number;
  /** As in production (default true): a batch without Idempotency-Key is a 400. */
  requireIdempotencyKeyForBatch?: boolean;
  /** How long an answer is kept under its key (default a day); 0 keeps none, as a native driver: every resend is answered afresh. */
  idempotencyTtlSeconds?: number;
}

export interface Counters {
  requests: Partial<Record<Endpoint, Record<string, number>>>;
  /** Account updates charged by executed PATCHes and batch items. */
  accountUpdates: number;
  applied: number;
  unchanged: number;
  itemFailures: number;
  rateLimited: number;
  replayed: number;
  sessionsRevoked: number;
  faults: Record<'429' | '503' | '500' | 'hang' | 'drop_after_apply' | 'unreachable', number>;
}

export interface RunningSimulator {
  /** http://HOST:PORT/v1 */
  baseUrl: string;
  /** http://HOST:PORT/_sim */
  adminUrl: string;
  port: number;
  /** Replaces the fault configuration (the script restarts, the PRNG is reseeded). */
  setFaults(f: FaultConfig): void;
  /** New rate limits from now on, advertised in capabilities (checked as at start; a reset keeps them). */
  setRateLimits(limits: Partial<RateLimits> | 'none'): void;
  account(login: string): AccountView | undefined;
  calls(since?: number): CallLogEntry[];
  counters(): Counters;
  /** Clears call log, counters, idempotency keys, rate budgets and faults; accounts stay as they are. */
  reset(): void;
  /** Destroys every open socket (hung requests included) and stops listening. */
  close(): Promise<void>;
}
