import type {
  AccessRead,
  BatchItem,
  BatchOptions,
  BatchResult,
  CallOptions,
  Capabilities,
  PatchAccessRequest,
  PatchAccessResult,
  PatchOptions,
  RevokeSessionsResult,
  WriteOptions,
} from './mailstore.types';
import type { FailureOutcome, Outcome } from './outcome';

/**
 * The one seam between the engine (waves, rollback, the support lane, the verifier) and a mail server (issue 18).
 * Every driver answers with the same shapes and the same `Outcome`s, so retries, the rate budget, idempotency,
 * `ifVersion` conflicts and the pause-on-unreachable rule behave the same whatever is behind it:
 *
 * - `http`: the provisioning contract over HTTP (`MailstoreClient`);
 * - native drivers (Dovecot's SQL passdb, LDAP) living in their own folder under `libs/mailstore/src/drivers/`.
 *
 * Rules every driver keeps (the conformance suite in test/contract checks them):
 * - a write sets the desired state, never a toggle, so a replay changes nothing (`unchanged`);
 * - `batch` answers `results[i]` for `items[i]`, with `previous` (the state before) on `applied`/`unchanged`,
 *   `not_found` for an unknown login, `conflict` (with the current state) when `ifVersion` no longer holds;
 * - a failure to reach the server is a `retryable` outcome (with `outcomeUnknown` when a write may have been
 *   applied), never an `ok` for an account that was not changed; methods never throw for I/O failures;
 * - `revokeSessions` on a batch ends live sessions of items where a protocol went from on to off, when the
 *   capabilities say `revokeSessions: true`.
 */
export interface Mailstore {
  /**
   * Whether an account's version names one write: it goes up at every change (the HTTP contract's `version`, the
   * ldap driver's version attribute, a passdb's version column), so two writes never answer the same version. False
   * for a passdb without a version column, whose version is a fingerprint of the switches (every write to the same
   * state answers the same): the engine then cannot tell another writer's write from its own by the version.
   */
  readonly versionsNameWrites: boolean;
  /** The capabilities, read once and cached (`refreshCapabilities` reads them again). */
  capabilities(opts?: CallOptions): Promise<Outcome<Capabilities>>;
  refreshCapabilities(opts?: CallOptions): Promise<Outcome<Capabilities>>;
  /** The capabilities last read, if any. */
  cachedCapabilities(): Capabilities | undefined;
  /** Items per batch: min(maxBatchItems, accountUpdateBurst). Needs capabilities. */
  batchSizeLimit(): number;
  /** Wait before verifying a write by a read: 0 for immediate propagation. Needs capabilities. */
  propagationDelayMs(): number;
  getAccess(account: string, opts?: CallOptions): Promise<Outcome<AccessRead>>;
  patchAccess(account: string, req: PatchAccessRequest, opts: PatchOptions): Promise<Outcome<PatchAccessResult>>;
  batch(items: readonly BatchItem[], batchOpts: BatchOptions, opts: WriteOptions): Promise<Outcome<BatchResult>>;
  revokeSessions(account: string, opts: WriteOptions): Promise<Outcome<RevokeSessionsResult>>;
  /**
   * Whether the store answers now, and if not which part of it does not: the HTTP contract's capabilities; a native
   * driver's passdb or directory (a read of a login that cannot exist, so its table, columns or base DN are checked
   * too) and its doveadm HTTP API when one is configured (a kick of that login). For health reports only: it
   * changes nothing and is never traced.
   */
  probe(opts?: CallOptions): Promise<Probe>;
  /** Waits for calls in flight, then releases the driver's connections. */
  close(): Promise<void>;
  /** Aborts calls in flight (their outcome: `retryable`/`aborted`) and releases the connections. */
  destroy(): Promise<void>;
}

/** A probe's answer (`Mailstore.probe`): the part that failed is named, its failure said without a secret. */
export type Probe = { up: true } | { up: false; part: ProbePart; reason: string };
export type ProbePart = 'mailstore' | 'passdb' | 'directory' | 'doveadm';

/** The login a native driver's probe reads and kicks: `.invalid` is reserved (RFC 2606), no account has it. */
export const PROBE_LOGIN = 'reopen-health-probe@example.invalid';

/** One line for a failed call, for a probe's reason: its status and code, never a body. */
export function failureReason(o: FailureOutcome): string {
  const code = 'code' in o ? o.code : o.kind;
  return o.status === undefined ? code : `HTTP ${o.status} ${code}`;
}

/** The Nest injection token of the process's `Mailstore` (the worker's; the API holds none). */
export const MAILSTORE = Symbol('MAILSTORE');
