import { createHash } from 'node:crypto';
import type { AccountStore } from '../account-store';
import type { AccountIdList } from '../call-log';
import { desiredKey } from '../desired-state';
import { badRequest, Problem } from '../problem';
import {
  accountProblem,
  canonicalJson,
  desiredFromProtocols,
  unknownField,
  writeOptions,
  type InvalidField,
} from '../request-validation';
import type { SimSettings } from '../sim-state';

const BATCH_FIELDS = ['items', 'revokeSessions', 'reason'] as const;
const ITEM_FIELDS = ['account', 'protocols', 'ifVersion'] as const;
const MAX_VERSION = 0xffffffff;

/** An item refused before execution (status `invalid`), with the account as sent (any JSON value). */
export interface RefusedItem {
  /** A 400 code of the contract, or duplicate_account. */
  code: string;
  detail: string;
  account: unknown;
}

/**
 * A validated batch, compact: one slot per item in typed arrays. `ids` holds the store index of each
 * item's account, or -1-k for `extras[k]` (an account the store does not know, or an invalid value),
 * so the plan doubles as the call log's account list.
 *
 * Invariant: an item is either in `refused` or has a valid account, a non-zero `desired` and an
 * `ifVersion` (0 = none).
 */
export class BatchPlan implements AccountIdList {
  readonly ids: Int32Array;
  readonly desired: Uint8Array;
  readonly ifVersion: Uint32Array;
  readonly extras: string[] = [];
  readonly refused = new Map<number, RefusedItem>();
  fingerprint = '';

  constructor(
    readonly size: number,
    readonly revokeSessions: boolean,
    readonly reason: string,
  ) {
    this.ids = new Int32Array(size);
    this.desired = new Uint8Array(size);
    this.ifVersion = new Uint32Array(size);
  }

  /** The account at `i` as a login (for refused items: as sent, when it was a string). */
  login(i: number, store: AccountStore): string {
    const id = this.ids[i];
    return id >= 0 ? store.loginAt(id) : this.extras[-id - 1];
  }

  refuse(i: number, code: string, detail: string, account: unknown): void {
    this.refused.set(i, { code, detail, account });
  }

  setExtra(i: number, account: string): void {
    this.ids[i] = -this.extras.push(account);
  }
}

/**
 * Validates POST /v1/access/batch. Top-level problems (not a list, empty, too many items, bad options)
 * refuse the whole request; problems of one item only make that item `invalid` (each item stands alone).
 * A repeated account is refused as `duplicate_account`; its first occurrence is processed normally.
 */
export function planBatch(
  body: Record<string, unknown>,
  store: AccountStore,
  settings: SimSettings,
  needsFingerprint: boolean,
): BatchPlan | Problem {
  const extra = unknownField(body, BATCH_FIELDS);
  if (extra !== undefined) return badRequest('invalid_request', `unknown field "${extra}"`);
  const { items } = body;
  if (!Array.isArray(items)) return badRequest('invalid_request', 'items must be a list');
  if (items.length === 0) return badRequest('invalid_request', 'items must hold at least one item');
  if (items.length > settings.maxBatchItems) {
    return new Problem(
      413,
      'batch_too_large',
      `${items.length} items, at most ${settings.maxBatchItems} per batch: split it`,
      { maxItems: settings.maxBatchItems },
    );
  }
  const options = writeOptions(body);
  if (options instanceof Problem) return options;

  const plan = new BatchPlan(items.length, options.revokeSessions, options.reason);
  let fingerprint = needsFingerprint
    ? `POST batch\u0002${options.revokeSessions}\u0002${JSON.stringify(options.reason)}`
    : '';
  let unknownSeen: Set<string> | undefined;
  store.nextStamp();
  for (let i = 0; i < items.length; i++) {
    const item: unknown = items[i];
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      plan.setExtra(i, canonicalJson(item));
      plan.refuse(i, 'invalid_request', `items[${i}] must be an object`, null);
      if (needsFingerprint) fingerprint += `\u0003${canonicalJson(item)}`;
      continue;
    }
    const { account, ifVersion } = item as Record<string, unknown>;
    const checked = checkItem(item, settings);
    let duplicate = false;
    if (typeof account === 'string') {
      const id = typeof checked !== 'number' && checked.code === 'invalid_account' ? -1 : store.find(account);
      if (id >= 0) {
        plan.ids[i] = id;
        duplicate = !store.markSeen(id);
      } else {
        plan.setExtra(i, account);
        unknownSeen ??= new Set();
        duplicate = unknownSeen.has(account);
        unknownSeen.add(account);
      }
    } else {
      plan.setExtra(i, canonicalJson(account ?? null));
    }
    if (typeof checked !== 'number') {
      plan.refuse(i, checked.code, `items[${i}]: ${checked.detail}`, account);
      if (needsFingerprint) fingerprint += `\u0003${canonicalJson(item)}`;
      continue;
    }
    if (needsFingerprint) {
      fingerprint += `\u0002${account as string}\u0001${desiredKey(checked)}\u0001${(ifVersion as number | undefined) ?? ''}`;
    }
    if (duplicate) plan.refuse(i, 'duplicate_account', `items[${i}]: account appears earlier in this batch`, account);
    else {
      plan.desired[i] = checked;
      plan.ifVersion[i] = (ifVersion as number | undefined) ?? 0;
    }
  }
  if (needsFingerprint) plan.fingerprint = createHash('sha256').update(fingerprint).digest('base64');
  return plan;
}

/** The item's desired mask, or why it is refused. */
function checkItem(item: object, settings: SimSettings): number | InvalidField {
  const extra = unknownField(item, ITEM_FIELDS);
  if (extra !== undefined) return { code: 'invalid_request', detail: `unknown field "${extra}"` };
  const { account, protocols, ifVersion } = item as Record<string, unknown>;
  const accountIssue = accountProblem(account);
  if (accountIssue) return { code: 'invalid_account', detail: accountIssue };
  if (protocols === undefined) return { code: 'invalid_protocols', detail: 'protocols is required' };
  const desired = desiredFromProtocols(protocols);
  if (typeof desired !== 'number') return desired;
  if (ifVersion !== undefined) {
    if (!Number.isSafeInteger(ifVersion) || (ifVersion as number) < 1 || (ifVersion as number) > MAX_VERSION) {
      return { code: 'invalid_request', detail: 'ifVersion must be a positive integer' };
    }
    if (!settings.conditionalUpdates) {
      return { code: 'invalid_request', detail: 'this mailstore does not support conditional updates (ifVersion)' };
    }
  }
  return desired;
}
