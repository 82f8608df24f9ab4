import { tracingOn } from '@app/tracing';
import { callSpan } from '../call-span';
import type {
  AccessRead,
  BatchItem,
  BatchItemResult,
  BatchOptions,
  BatchResult,
  CallOptions,
  PatchAccessRequest,
  PatchAccessResult,
  PatchOptions,
  WriteOptions,
} from '../mailstore.types';
import type { Outcome } from '../outcome';
import { failureReason, PROBE_LOGIN, type Probe } from '../mailstore';
import { ConfiguredCapabilities } from './configured-capabilities';
import type { DoveadmClient } from './doveadm';

/** Item errors that say the request was wrong (400); any other says the account's entry or row is (409). */
const REQUEST_ERRORS: ReadonlySet<string> = new Set([
  'invalid_request',
  'invalid_account',
  'invalid_protocols',
  'unsupported_protocol',
  'duplicate_account',
]);

/**
 * What the native drivers (dovecot-sql, ldap) share of `Mailstore` beyond their capabilities: one account's PATCH is a
 * one-item batch (the same rule, the same kicks, `ifMatch` as the item's `ifVersion`), answered as the contract answers
 * a PATCH: 412 `version_mismatch` with the current version, 404 `account_not_found`, 400 for a wrong request and 409
 * for an account the driver cannot switch (two rows, a broken entry).
 */
export abstract class NativeMailstore extends ConfiguredCapabilities {
  /** What a trace calls the driver (`reopen.driver`, and the spans' names). */
  protected abstract readonly driverName: 'dovecot-sql' | 'ldap';
  /** The server the driver talks to (its URL's host, never its credentials): the spans' `server.address`. */
  protected abstract readonly serverHost: string;
  /** The driver's batch write (the `Mailstore.batch` rules): `batch` is it, traced. */
  protected abstract writeBatch(
    items: readonly BatchItem[],
    batchOpts: BatchOptions,
    opts: WriteOptions,
  ): Promise<Outcome<BatchResult>>;
  /** The driver's read of one account: `getAccess` is it, traced. */
  protected abstract readAccess(account: string, opts: CallOptions): Promise<Outcome<AccessRead>>;
  /** Where the switches live, as a probe names it. */
  protected abstract readonly storePart: 'passdb' | 'directory';
  /** The doveadm HTTP API that ends sessions, when one is configured. */
  protected abstract readonly doveadm: DoveadmClient | undefined;

  /**
   * The store read for a login that cannot exist (answered `account_not_found`: the table, its columns or the base
   * DN and filter work), then doveadm, if configured, asked to kick that login (no session: answered as such).
   */
  async probe(opts: CallOptions = {}): Promise<Probe> {
    const read = await this.readAccess(PROBE_LOGIN, opts);
    if (read.kind !== 'ok' && !(read.kind === 'permanent' && read.code === 'account_not_found'))
      return { up: false, part: this.storePart, reason: failureReason(read) };
    const kicked = await this.doveadm?.kick([PROBE_LOGIN], opts.signal);
    if (kicked && !kicked.ok) return { up: false, part: 'doveadm', reason: failureReason(kicked.failure) };
    return { up: true };
  }

  /**
   * A batch as one client span, as the HTTP client's call (call-span.ts): the SQL transaction or LDAP exchange and
   * the doveadm kick inside it, with the batch's key and the attempt's request id; never a login.
   */
  batch(items: readonly BatchItem[], batchOpts: BatchOptions, opts: WriteOptions): Promise<Outcome<BatchResult>> {
    if (!tracingOn()) return this.writeBatch(items, batchOpts, opts); // nothing built for a span when off
    const attributes = this.spanAttributes(opts);
    attributes['reopen.idempotency_key'] = opts.idempotencyKey;
    attributes['reopen.batch.items'] = items.length;
    return callSpan(`${this.driverName} batch`, attributes, () => this.writeBatch(items, batchOpts, opts));
  }

  getAccess(account: string, opts: CallOptions = {}): Promise<Outcome<AccessRead>> {
    if (!tracingOn()) return this.readAccess(account, opts);
    return callSpan(`${this.driverName} read`, this.spanAttributes(opts), () => this.readAccess(account, opts));
  }

  patchAccess(account: string, req: PatchAccessRequest, opts: PatchOptions): Promise<Outcome<PatchAccessResult>> {
    return patchThroughBatch(this, account, req, opts);
  }

  private spanAttributes(opts: CallOptions): Record<string, string | number> {
    const attributes: Record<string, string | number> = {
      'reopen.driver': this.driverName,
      'server.address': this.serverHost,
    };
    if (opts.requestId !== undefined) attributes['reopen.request_id'] = opts.requestId;
    return attributes;
  }
}

async function patchThroughBatch(
  store: NativeMailstore,
  account: string,
  req: PatchAccessRequest,
  opts: PatchOptions,
): Promise<Outcome<PatchAccessResult>> {
  const item: BatchItem = { account, protocols: req.protocols };
  if (opts.ifMatch !== undefined) item.ifVersion = opts.ifMatch;
  const outcome = await store.batch([item], { revokeSessions: req.revokeSessions, reason: req.reason }, opts);
  if (outcome.kind !== 'ok') return outcome;
  const r = outcome.value.results[0];
  const { latencyMs } = outcome;
  const detail = r.error?.detail;
  switch (r.status) {
    case 'applied':
    case 'unchanged': {
      const value: PatchAccessResult = {
        account,
        protocols: r.protocols ?? {},
        version: r.version ?? 0,
        updatedAt: r.updatedAt ?? new Date().toISOString(),
        changed: r.status === 'applied',
      };
      if (r.sessions !== undefined) value.sessions = r.sessions;
      return { ...outcome, value };
    }
    case 'conflict':
      return { kind: 'permanent', status: 412, code: 'version_mismatch', detail, currentVersion: r.version, latencyMs };
    case 'not_found':
      return { kind: 'permanent', status: 404, code: 'account_not_found', detail, latencyMs };
    case 'invalid': {
      const code = r.error?.code ?? 'invalid_request';
      return { kind: 'permanent', status: REQUEST_ERRORS.has(code) ? 400 : 409, code, detail, latencyMs };
    }
  }
}

/** A batch's summary, counted from its per-item answers (the truth). */
export function summarise(results: readonly BatchItemResult[]): BatchResult['summary'] {
  const summary = { applied: 0, unchanged: 0, failed: 0 };
  for (const r of results) {
    if (r.status === 'applied') summary.applied++;
    else if (r.status === 'unchanged') summary.unchanged++;
    else summary.failed++;
  }
  return summary;
}
