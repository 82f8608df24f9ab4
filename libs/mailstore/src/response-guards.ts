import {
  BATCH_ITEM_STATUSES,
  type AccessState,
  type BatchItem,
  type BatchItemResult,
  type BatchItemStatus,
  type BatchResult,
  type PatchAccessResult,
  type ProtocolSwitches,
  type RevokeSessionsResult,
  type SessionsResult,
} from './mailstore.types';
import type { RateLimitKind } from './outcome';

/**
 * Hand-written guards for untrusted response bodies. Each returns the checked value (copied field by field,
 * so nothing unexpected rides along) or a reason string; callers turn a reason into `protocol_error`.
 */
export type Checked<T> = { ok: true; value: T } | { ok: false; reason: string };

const MAX_CODE_LENGTH = 100;
const MAX_DETAIL_LENGTH = 1_000;

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function isNonNegativeInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** JSON.parse that never throws; `undefined` for an empty or non-JSON body. */
export function parseJson(text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** The parts of an RFC 9457 problem the client uses; every field is optional and checked. */
export interface Problem {
  code?: string;
  detail?: string;
  currentVersion?: number;
  maxItems?: number;
  retryAfterSeconds?: number;
  limit?: RateLimitKind;
}

export function parseProblem(body: unknown): Problem {
  if (!isRecord(body)) return {};
  const problem: Problem = {};
  if (typeof body.code === 'string' && /^[a-z0-9_.-]{1,100}$/i.test(body.code)) problem.code = body.code;
  const detail =
    typeof body.detail === 'string' ? body.detail : typeof body.title === 'string' ? body.title : undefined;
  if (detail !== undefined) problem.detail = detail.slice(0, MAX_DETAIL_LENGTH);
  if (isNonNegativeInteger(body.currentVersion)) problem.currentVersion = body.currentVersion;
  if (isNonNegativeInteger(body.maxItems)) problem.maxItems = body.maxItems;
  if (typeof body.retryAfterSeconds === 'number' && Number.isFinite(body.retryAfterSeconds)) {
    problem.retryAfterSeconds = body.retryAfterSeconds;
  }
  if (body.limit === 'requests' || body.limit === 'account-updates') problem.limit = body.limit;
  return problem;
}

function checkProtocols(value: unknown): ProtocolSwitches | undefined {
  if (!isRecord(value)) return undefined;
  const out: ProtocolSwitches = {};
  for (const key of ['imap', 'pop3'] as const) {
    const v = value[key];
    if (v === undefined) continue;
    if (typeof v !== 'boolean') return undefined;
    out[key] = v;
  }
  return out;
}

function checkTimestamp(value: unknown): string | undefined {
  return typeof value === 'string' && !Number.isNaN(Date.parse(value)) ? value : undefined;
}

function checkSessions(value: unknown): SessionsResult | undefined {
  return value === 'revoked' || value === 'none' ? value : undefined;
}

export function checkAccessState(body: unknown, expectedAccount: string): Checked<AccessState> {
  if (!isRecord(body)) return { ok: false, reason: 'access state is not an object' };
  if (body.account !== expectedAccount) return { ok: false, reason: 'access state is for another account' };
  const protocols = checkProtocols(body.protocols);
  if (!protocols) return { ok: false, reason: 'access state protocols are not booleans' };
  if (!isNonNegativeInteger(body.version)) return { ok: false, reason: 'access state version is not an integer' };
  const updatedAt = checkTimestamp(body.updatedAt);
  if (!updatedAt) return { ok: false, reason: 'access state updatedAt is not a timestamp' };
  return { ok: true, value: { account: expectedAccount, protocols, version: body.version, updatedAt } };
}

export function checkPatchResult(body: unknown, expectedAccount: string): Checked<PatchAccessResult> {
  const state = checkAccessState(body, expectedAccount);
  if (!state.ok) return state;
  if (!isRecord(body)) return { ok: false, reason: 'patch result is not an object' };
  if (typeof body.changed !== 'boolean') return { ok: false, reason: 'patch result has no boolean "changed"' };
  const value: PatchAccessResult = { ...state.value, changed: body.changed };
  if (body.sessions !== undefined) {
    const sessions = checkSessions(body.sessions);
    if (!sessions) return { ok: false, reason: 'patch result sessions is not revoked|none' };
    value.sessions = sessions;
  }
  return { ok: true, value };
}

export function checkRevokeResult(body: unknown, expectedAccount: string): Checked<RevokeSessionsResult> {
  if (!isRecord(body)) return { ok: false, reason: 'sessions result is not an object' };
  if (body.account !== expectedAccount) return { ok: false, reason: 'sessions result is for another account' };
  const sessions = checkSessions(body.sessions);
  if (!sessions) return { ok: false, reason: 'sessions result is not revoked|none' };
  return { ok: true, value: { account: expectedAccount, sessions } };
}

function checkBatchItem(raw: unknown, index: number): Checked<BatchItemResult> {
  const fail = (why: string): Checked<BatchItemResult> => ({ ok: false, reason: `results[${index}] ${why}` });
  if (!isRecord(raw)) return fail('is not an object');
  if (typeof raw.account !== 'string') return fail('has no account');
  if (!(BATCH_ITEM_STATUSES as readonly unknown[]).includes(raw.status)) return fail('has an unknown status');
  const item: BatchItemResult = { account: raw.account, status: raw.status as BatchItemStatus };
  for (const key of ['protocols', 'previous'] as const) {
    if (raw[key] === undefined || raw[key] === null) continue;
    const protocols = checkProtocols(raw[key]);
    if (!protocols) return fail(`${key} are not booleans`);
    item[key] = protocols;
  }
  if (raw.version !== undefined && raw.version !== null) {
    if (!isNonNegativeInteger(raw.version)) return fail('version is not an integer');
    item.version = raw.version;
  }
  if (raw.updatedAt !== undefined && raw.updatedAt !== null) {
    const updatedAt = checkTimestamp(raw.updatedAt);
    if (!updatedAt) return fail('updatedAt is not a timestamp');
    item.updatedAt = updatedAt;
  }
  if (isRecord(raw.error)) {
    const code = typeof raw.error.code === 'string' ? raw.error.code.slice(0, MAX_CODE_LENGTH) : 'unknown';
    item.error = { code };
    if (typeof raw.error.detail === 'string') item.error.detail = raw.error.detail.slice(0, MAX_DETAIL_LENGTH);
  }
  const sessions = checkSessions(raw.sessions);
  if (sessions) item.sessions = sessions;
  // A success must say what the account now is: the engine records it as ground truth.
  if ((item.status === 'applied' || item.status === 'unchanged') && (!item.protocols || item.version === undefined)) {
    return fail(`is ${item.status} without protocols and version`);
  }
  return { ok: true, value: item };
}

/** Whether an account's state holds every protocol a write names, as the write asks. */
export function holdsAsked(asked: ProtocolSwitches, now: ProtocolSwitches | undefined): boolean {
  if (!now) return false;
  return (Object.entries(asked) as [keyof ProtocolSwitches, boolean | undefined][]).every(
    ([p, v]) => v === undefined || now[p] === v,
  );
}

/**
 * A batch answer is only usable if `results[i]` answers `items[i]`. Anything else means we cannot tell which
 * items were applied: the caller reports the whole call as unknown (`protocol_error`, retry with the same key).
 */
export function checkBatchResult(body: unknown, items: readonly BatchItem[]): Checked<BatchResult> {
  if (!isRecord(body) || !Array.isArray(body.results)) return { ok: false, reason: 'batch answer has no results' };
  if (body.results.length !== items.length) {
    return { ok: false, reason: `batch answered ${body.results.length} results for ${items.length} items` };
  }
  const results: BatchItemResult[] = [];
  const summary = { applied: 0, unchanged: 0, failed: 0 };
  for (let i = 0; i < items.length; i++) {
    const item = checkBatchItem(body.results[i], i);
    if (!item.ok) return item;
    if (item.value.account !== items[i].account) {
      return { ok: false, reason: `results[${i}] answers another account than items[${i}]` };
    }
    // An applied or unchanged item is the account in the state asked (contract, section 3), and the engine records its
    // protocols as the account's: one that says otherwise (a protocol asked left out, or the other way) is no answer.
    const { status, protocols } = item.value;
    if ((status === 'applied' || status === 'unchanged') && !holdsAsked(items[i].protocols, protocols)) {
      return { ok: false, reason: `results[${i}] is ${item.value.status} in a state other than items[${i}] asks` };
    }
    results.push(item.value);
    if (item.value.status === 'applied') summary.applied++;
    else if (item.value.status === 'unchanged') summary.unchanged++;
    else summary.failed++;
  }
  const value: BatchResult = { summary, results };
  if (typeof body.batchId === 'string') value.batchId = body.batchId;
  return { ok: true, value };
}
