/**
 * Idempotency keys sent to the mailstore (`Idempotency-Key`, ≤ 255 chars, kept ≥ 24 h). A key names one logical
 * request: it is derived from durable ids only (wave id, batch number, operation id), never from time or
 * attempt, so a retry after a crash sends the same key and the mailstore replays instead of re-applying
 * (invariant 2). Same character rules as BullMQ job ids (no ':', never all digits), so a key can double as one.
 */

import type { BatchKind } from './wave-codes';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
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

/** Inverse of `operationKey`: the operation id, or null. */
export function parseOperationKey(key: string): string | null {
  const match = OPERATION_KEY.exec(key);
  return match !== null && UUID.test(match[1]) ? match[1] : null;
}
