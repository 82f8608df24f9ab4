import type { IncomingHttpHeaders } from 'node:http';
import type { AccountStore } from '../account-store';
import type { LoggedAccounts } from '../call-log';
import type { ItemTally } from '../counters';
import type { StoredResponse } from '../idempotency-store';
import type { Problem } from '../problem';
import type { SimState } from '../sim-state';
import type { Endpoint, Scope } from '../sim.types';

/**
 * A /v1 endpoint in two steps, so the pipeline (v1-pipeline.ts) can put authentication, rate limits,
 * idempotency and faults between them:
 * - prepare: validate the request (no side effects) -> an Operation, or the 4xx to send;
 * - Operation.execute: apply it synchronously and describe the answer, which may then be stored
 *   under the idempotency key.
 */
export interface V1Handler {
  endpoint: Endpoint;
  scope: Scope;
  /** PATCH/batch read and validate a JSON body. */
  readsBody: boolean;
  /** Writes honour Idempotency-Key; reads ignore it. */
  acceptsIdempotencyKey: boolean;
  prepare(request: V1Request): Operation | Problem;
}

export interface V1Request {
  state: SimState;
  /** The store at arrival (a reseeding reset swaps it; this request keeps its own). */
  store: AccountStore;
  /** Decoded from the path (get, patch, sessions). */
  account: string | undefined;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown> | undefined;
  /** True when an Idempotency-Key came with a write: the operation must carry a fingerprint. */
  needsFingerprint: boolean;
}

export interface Operation {
  /** For the call log. */
  accounts: LoggedAccounts;
  /** Account updates charged against the rate limit: N for a batch of N, 1 for PATCH, 0 otherwise. */
  updateCost: number;
  /** Canonical request identity (method, path, body) for idempotency; set when asked for. */
  fingerprint: string;
  execute(): Executed;
}

export interface Executed {
  response: StoredResponse;
  /** 'ok', or the problem code of an executed failure (account_not_found, version_mismatch). */
  outcome: string;
  /** Accounts actually changed: store indices (batch) or logins. */
  applied: Int32Array | readonly string[];
  tally: ItemTally;
}

export const NO_ITEMS: ItemTally = { applied: 0, unchanged: 0, failed: 0, revoked: 0 };
