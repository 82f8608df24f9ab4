import { randomUUID } from 'node:crypto';
import type { AccountStore } from '../account-store';
import { applyDesired, protocolsJson, turnsSomethingOff } from '../desired-state';
import type { FaultInjector } from '../faults';
import type { BatchPlan } from './batch-plan';

const APPLIED = 1;
const UNCHANGED = 2;
const NOT_FOUND = 3;
const INVALID = 4;
const CONFLICT = 5;

const STATUS_NAMES = ['', 'applied', 'unchanged', 'not_found', 'invalid', 'conflict'];

/**
 * The outcome of a batch, kept compact (16 bytes per item in one buffer) because it is also what an
 * idempotency key stores for 24 h: the JSON (~200 bytes per item) is rendered again on each replay.
 * Everything `toJson` needs is captured at execution, so a replay answers exactly what the first did.
 */
export class BatchResult {
  readonly batchId = randomUUID();
  readonly updatedAt: Float64Array;
  readonly version: Uint32Array;
  readonly status: Uint8Array;
  readonly previous: Uint8Array;
  readonly next: Uint8Array;
  readonly revoked: Uint8Array;
  applied = 0;
  unchanged = 0;
  failed = 0;
  revokedCount = 0;

  constructor(
    readonly plan: BatchPlan,
    private readonly store: AccountStore,
  ) {
    const n = plan.size;
    const buffer = new ArrayBuffer(n * 16);
    this.updatedAt = new Float64Array(buffer, 0, n);
    this.version = new Uint32Array(buffer, n * 8, n);
    this.status = new Uint8Array(buffer, n * 12, n);
    this.previous = new Uint8Array(buffer, n * 13, n);
    this.next = new Uint8Array(buffer, n * 14, n);
    this.revoked = new Uint8Array(buffer, n * 15, n);
  }

  /** Store indices of the accounts this batch changed. */
  appliedIds(): Int32Array {
    const out = new Int32Array(this.applied);
    for (let i = 0, k = 0; i < this.plan.size; i++) if (this.status[i] === APPLIED) out[k++] = this.plan.ids[i];
    return out;
  }

  toJson(): string {
    const { plan, store } = this;
    let out = `{"batchId":"${this.batchId}","summary":{"applied":${this.applied},"unchanged":${this.unchanged},"failed":${this.failed}},"results":[`;
    let isoAt = NaN;
    let iso = '';
    for (let i = 0; i < plan.size; i++) {
      if (i > 0) out += ',';
      const status = this.status[i];
      if (status === INVALID) {
        const refused = plan.refused.get(i)!;
        const account = typeof refused.account === 'string' ? JSON.stringify(refused.account) : 'null';
        out += `{"account":${account},"status":"invalid","error":${errorJson(refused.code, refused.detail)}}`;
        continue;
      }
      const account = JSON.stringify(plan.login(i, store));
      if (status === NOT_FOUND) {
        out += `{"account":${account},"status":"not_found","error":${errorJson('account_not_found', 'account is not known to the mailstore')}}`;
        continue;
      }
      // Consecutive items usually share one timestamp (the batch's): format it once.
      if (this.updatedAt[i] !== isoAt) {
        isoAt = this.updatedAt[i];
        iso = new Date(isoAt).toISOString();
      }
      out += `{"account":${account},"status":"${STATUS_NAMES[status]}","protocols":${protocolsJson(this.next[i])}`;
      if (status === CONFLICT) {
        out += `,"version":${this.version[i]},"updatedAt":"${iso}","error":${errorJson('version_mismatch', this.conflictDetail(i))}}`;
        continue;
      }
      out += `,"previous":${protocolsJson(this.previous[i])},"version":${this.version[i]},"updatedAt":"${iso}"`;
      out += plan.revokeSessions ? `,"sessions":"${this.revoked[i] ? 'revoked' : 'none'}"}` : '}';
    }
    return `${out}]}`;
  }

  private conflictDetail(i: number): string {
    const expected = this.plan.ifVersion[i];
    const current = this.version[i];
    return expected === current
      ? `account is being changed concurrently (simulated conflict at version ${current})`
      : `ifVersion ${expected} does not match the current version ${current}`;
  }
}

/**
 * Applies each item on its own (never all-or-nothing). An item changes the store only when its desired
 * state differs from the current one; then version goes up by one and, with revokeSessions, live
 * sessions end if a protocol went from on to off.
 */
export function executeBatch(
  plan: BatchPlan,
  store: AccountStore,
  faults: FaultInjector,
  canRevoke: boolean,
): BatchResult {
  const result = new BatchResult(plan, store);
  const now = Date.now();
  const revoke = plan.revokeSessions && canRevoke;
  for (let i = 0; i < plan.size; i++) {
    if (plan.refused.size > 0 && plan.refused.has(i)) {
      result.status[i] = INVALID;
      result.failed++;
      continue;
    }
    const id = plan.ids[i];
    if (id < 0 || faults.isNotFound(store.loginAt(id))) {
      result.status[i] = NOT_FOUND;
      result.failed++;
      continue;
    }
    const current = store.flags[id];
    const version = store.versions[id];
    const ifVersion = plan.ifVersion[i];
    result.previous[i] = current;
    if (ifVersion !== 0 && (ifVersion !== version || faults.isConflict(store.loginAt(id)))) {
      result.status[i] = CONFLICT;
      result.next[i] = current;
      result.version[i] = version;
      result.updatedAt[i] = store.updatedAt[id];
      result.failed++;
      continue;
    }
    const next = applyDesired(current, plan.desired[i]);
    result.next[i] = next;
    if (next === current) {
      result.status[i] = UNCHANGED;
      result.version[i] = version;
      result.updatedAt[i] = store.updatedAt[id];
      result.unchanged++;
      continue;
    }
    store.flags[id] = next;
    store.versions[id] = version + 1;
    store.updatedAt[id] = now;
    result.status[i] = APPLIED;
    result.version[i] = version + 1;
    result.updatedAt[i] = now;
    result.applied++;
    if (revoke && turnsSomethingOff(current, next) && store.sessions[id] > 0) {
      store.sessions[id] = 0;
      result.revoked[i] = 1;
      result.revokedCount++;
    }
  }
  return result;
}

function errorJson(code: string, detail: string): string {
  return `{"code":"${code}","detail":${JSON.stringify(detail)}}`;
}
