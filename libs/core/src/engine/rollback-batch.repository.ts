import { rollbackClaimDelta, rollbackQueueDelta } from '@app/domain';
import { BatchMember, ClaimedBatch } from './batch.types';
import { applyCounters, Sql } from './sql';

interface RollbackRow {
  batch_id: string;
  seq: number;
  account_id: string;
  login: string;
  prior_imap: boolean | null;
  prior_pop3: boolean | null;
  result_version: number | null;
}

/**
 * Marks every member the wave changed (state enabled) for restoration, once: a second rollback finds none
 * left with a null rollback_state, so it changes nothing more. Returns how many were queued.
 */
export async function queueRollback(sql: Sql, waveId: string): Promise<number> {
  const [row] = await sql<{ n: string }>(
    `WITH q AS (UPDATE wave_members SET rollback_state = 'pending'
                 WHERE wave_id = $1 AND state = 'enabled' AND rollback_state IS NULL RETURNING 1)
     SELECT count(*) AS n FROM q`,
    [waveId],
  );
  const n = Number(row?.n ?? 0);
  if (n) await applyCounters(sql, waveId, rollbackQueueDelta(n));
  return n;
}

/** Claims the next members to restore and creates their batch row (durable idempotency key). */
export async function claimRollbackBatch(
  sql: Sql,
  waveId: string,
  size: number,
  workerId: string,
  leaseMs: number,
  /** Members at or below it were claimed by this pump already (see claimForwardBatch). */
  floor = 0,
): Promise<ClaimedBatch | null> {
  const rows = await sql<RollbackRow>(
    `WITH b AS (SELECT nextval(pg_get_serial_sequence('wave_batches', 'id')) AS id),
     claimed AS (
       UPDATE wave_members m SET rollback_state = 'in_flight', rollback_batch_id = (SELECT id FROM b)
       WHERE m.wave_id = $1 AND m.seq = ANY(ARRAY(
         SELECT seq FROM wave_members WHERE wave_id = $1 AND rollback_state = 'pending' AND seq > $3
         ORDER BY seq LIMIT $2 FOR UPDATE SKIP LOCKED))
       RETURNING m.seq, m.account_id, m.prior_imap, m.prior_pop3, m.result_version)
     SELECT (SELECT id FROM b) AS batch_id, c.seq, c.account_id, a.login, c.prior_imap, c.prior_pop3, c.result_version
     FROM claimed c JOIN accounts a ON a.id = c.account_id ORDER BY c.seq`,
    [waveId, size, floor],
  );
  if (!rows.length) return null;
  const batchId = Number(rows[0].batch_id);
  await applyCounters(sql, waveId, rollbackClaimDelta(rows.length));
  const key = `wave-${waveId}/rollback/batch-${batchId}`;
  await sql(
    `INSERT INTO wave_batches (id, wave_id, kind, batch_no, size, first_seq, last_seq, idempotency_key, claimed_by, lease_until)
     OVERRIDING SYSTEM VALUE
     VALUES ($1::bigint, $2, 'rollback', $1::int, $3, $4, $5, $6, $7, now() + ($8 || ' milliseconds')::interval)`,
    [batchId, waveId, rows.length, rows[0].seq, rows[rows.length - 1].seq, key, workerId, String(leaseMs)],
  );
  return {
    id: batchId,
    waveId,
    kind: 'rollback',
    idempotencyKey: key,
    attempts: 0,
    members: rows.map(toMember),
  };
}

function toMember(r: RollbackRow): BatchMember {
  return {
    seq: r.seq,
    accountId: Number(r.account_id),
    login: r.login,
    priorImap: r.prior_imap ?? false,
    priorPop3: r.prior_pop3 ?? false,
    version: r.result_version,
  };
}
