import type { AccountStore } from '../account-store';
import type { FaultInjector } from '../faults';
import { JSON_CONTENT_TYPE, problemResponse } from '../http-io';
import type { StoredResponse } from '../idempotency-store';
import { Problem } from '../problem';

/** The contract's AccessState. */
export interface AccessState {
  account: string;
  protocols: { imap: boolean; pop3: boolean };
  version: number;
  updatedAt: string;
}

export function accessState(store: AccountStore, i: number): AccessState {
  const { protocols, version, updatedAt } = store.view(i);
  return { account: store.loginAt(i), protocols, version, updatedAt };
}

/** Strong ETag of a version: `"7"`. */
export function etag(version: number): string {
  return `"${version}"`;
}

/** Index of the account, or -1 when unknown or configured as not found (FaultConfig.notFoundAccounts). */
export function resolveAccount(store: AccountStore, faults: FaultInjector, account: string): number {
  return faults.isNotFound(account) ? -1 : store.find(account);
}

export function accountNotFound(account: string): StoredResponse {
  return problemResponse(
    new Problem(404, 'account_not_found', `account ${JSON.stringify(account)} is not known to the mailstore`),
  );
}

/** A 200 JSON answer about one account, with its ETag. */
export function stateResponse(body: object, version: number): StoredResponse {
  return { status: 200, contentType: JSON_CONTENT_TYPE, headers: { etag: etag(version) }, body: JSON.stringify(body) };
}
