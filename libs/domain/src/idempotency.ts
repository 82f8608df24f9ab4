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

/** Stand-ins for the SQL operands of batchKeySql: a valid wave id and batch number that no key part contains. */
const SQL_WAVE = 'ffffffff-ffff-ffff-ffff-ffffffffffff';
const SQL_BATCH_NO = Number.MAX_SAFE_INTEGER;
const SQL_OPERANDS = new RegExp(`(${SQL_WAVE}|${SQL_BATCH_NO})`);

/**
 * batchKey as a PostgreSQL expression, for the claim statements: they draw the batch number and write the batch row
 * with its key in the statement that claims the members, so the key is durable before anything is sent. Generated
 * from batchKey itself (its text around the two operands), so the two cannot drift apart; `waveId` and `batchNo`
 * are SQL (a parameter, a column).
 */
export function batchKeySql(waveId: string, kind: BatchKind, batchNo: string): string {
  return batchKey(SQL_WAVE, kind, SQL_BATCH_NO)
    .split(SQL_OPERANDS)
    .filter((part) => part !== '')
    .map((part) => {
      if (part === SQL_WAVE) return waveId;
      if (part === String(SQL_BATCH_NO)) return batchNo;
      return `'${part.replace(/'/g, "''")}'`;
    })
    .join(' || ');
}

/**
 * A batch's key once its members were decided again after attempts that applied nothing (429, 503, nothing sent) and
 * its body changed (a member now held or already open): a new body needs a new key, `<key>~<attempts>` (as PostgreSQL
 * computes it in the send permit; the same body keeps its key). The mailstore takes
 * any printable key (contract §5); `~` keeps it apart from every key batchKey makes.
 */
export function redecidedBatchKeySql(key: string, attempts: string): string {
  return `${key} || '~' || ${attempts}`;
}

/** The key of a single-account support operation: `operation-<uuid>`. */
export function operationKey(operationId: string): string {
  assertUuid('operationId', operationId);
  return `operation-${operationId}`;
}

/**
 * Inverse of `operationKey`: the operation id, or null.
 * @internal Only its unit test calls it (the engine never parses a key back): knip's production pass skips it.
 */
export function parseOperationKey(key: string): string | null {
  const match = OPERATION_KEY.exec(key);
  return match !== null && UUID.test(match[1]) ? match[1] : null;
}
