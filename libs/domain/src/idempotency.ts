/**
 * Idempotency keys sent to the mailstore (`Idempotency-Key`, ≤ 255 chars, kept ≥ 24 h). A key names one logical
 * request: it is derived from durable ids only (wave id, batch number, operation id), never from time or
 * attempt, so a retry after a crash sends the same key and the mailstore replays instead of re-applying
 * (invariant 2). Same character rules as BullMQ job ids (no ':', never all digits), so a key can double as one.
 */

export const MAX_KEY_LENGTH = 255;
export type BatchKind = 'forward' | 'rollback';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const KEY_CHARS = /^[A-Za-z0-9/_.-]+$/;
const BATCH_KEY = /^wave-([0-9a-f-]{36})\/(forward|rollback)\/batch-([1-9][0-9]*)(?:\/group-([2-9]|[1-9][0-9]+))?$/;
const OPERATION_KEY = /^operation-([0-9a-f-]{36})$/;

function assertUuid(name: string, value: string): void {
  if (!UUID.test(value)) throw new RangeError(`${name} must be a lower-case UUID, got '${value}'`);
}

function assertPositiveInteger(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name} must be an integer ≥ 1, got ${value}`);
}

/**
 * The key of one batch call: `wave-<uuid>/forward/batch-17`.
 *
 * `group` (≥ 2) is for the rare case where the same batch must be sent with a different body, e.g. after the
 * mailstore answered `422 idempotency_key_reused` because the items were decided again: reusing the key would be
 * refused, so the caller records a new group on the batch row and derives `…/batch-17/group-2`.
 */
export function batchKey(waveId: string, kind: BatchKind, batchNo: number, group = 1): string {
  assertUuid('waveId', waveId);
  if (kind !== 'forward' && kind !== 'rollback')
    throw new RangeError(`kind must be forward or rollback, got '${String(kind)}'`);
  assertPositiveInteger('batchNo', batchNo);
  assertPositiveInteger('group', group);
  const base = `wave-${waveId}/${kind}/batch-${batchNo}`;
  return group === 1 ? base : `${base}/group-${group}`;
}

/** The key of a single-account support operation: `operation-<uuid>`. */
export function operationKey(operationId: string): string {
  assertUuid('operationId', operationId);
  return `operation-${operationId}`;
}

/** What the contract and our job ids accept: 1–255 chars of [A-Za-z0-9/_.-], not all digits. */
export function isValidIdempotencyKey(key: unknown): key is string {
  return typeof key === 'string' && key.length <= MAX_KEY_LENGTH && KEY_CHARS.test(key) && !/^[0-9]+$/.test(key);
}

export interface ParsedBatchKey {
  waveId: string;
  kind: BatchKind;
  batchNo: number;
  group: number;
}

/** Inverse of `batchKey`; null for anything batchKey cannot produce (for logs and the simulator's checks). */
export function parseBatchKey(key: string): ParsedBatchKey | null {
  const match = BATCH_KEY.exec(key);
  if (match === null || !UUID.test(match[1])) return null;
  const batchNo = Number(match[3]);
  const group = match[4] === undefined ? 1 : Number(match[4]);
  if (!Number.isSafeInteger(batchNo) || !Number.isSafeInteger(group)) return null;
  return { waveId: match[1], kind: match[2] as BatchKind, batchNo, group };
}

/** Inverse of `operationKey`: the operation id, or null. */
export function parseOperationKey(key: string): string | null {
  const match = OPERATION_KEY.exec(key);
  return match !== null && UUID.test(match[1]) ? match[1] : null;
}
