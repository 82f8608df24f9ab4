import { batchKeySql, rollbackClaimDelta, rollbackQueueDelta } from '@app/domain';
import { ClaimedBatch, memberFromRow, StoredMemberRow } from './batch.types';
import { Sql } from '../db/sql';
import { applyCounters, counterParams, countersUpsertSql } from '../db/wave-counters';

/**
 * Counts the members a rollback will restore, without touching them: every enabled member whose rollback_state is
 * still null waits for restoration once the wave's rollback has begun (the claim finds them through a partial
 * index). Their number is `enabled − rollback:total` (counters are exact, and every member counted in
 * rollback:total is an enabled one), added to rollback:total and rollback:pending. Called under the wave's lock in
 * the transaction that sets rollback_started_at; a second call adds nothing. Forward batches that settle after
 * it (in flight when the rollback began) count their own enabled members (settleForward). Returns the count.
 */
export async function countRollback(sql: Sql, waveId: string): Promise<number> {
  const [row] = await sql<{ n: string }>(
    `SELECT COALESCE(sum(value) FILTER (WHERE name = 'enabled'), 0)
          - COALESCE(sum(value) FILTER (WHERE name = 'rollback:total'), 0) AS n
       FROM wave_counters WHERE wave_id = $1 AND name IN ('enabled', 'rollback:total')`,
    [waveId],
  );
  const n = Number(row?.n ?? 0);
  if (n > 0) await applyCounters(sql, waveId, rollbackQueueDelta(n));
  return n;
}

/** Whether any member still waits for restoration (one probe of the rollback index). */
export async function rollbackLeft(sql: Sql, waveId: string): Promise<boolean> {
  const rows = await sql(
    `SELECT 1 FROM wave_members WHERE wave_id = $1 AND state = 'enabled' AND rollback_state IS NULL LIMIT 1`,
    [waveId],
  );
  return rows.length > 0;
}

/**
 * Claims the next members to restore and creates their batch row (durable idempotency key), in one statement:
 * members (SKIP LOCKED, from the pump's floor), the batch row, then the counters (they read the others' rows
 * first, so the hot counter rows are locked last). The counter names and signs come from the domain's
 * rollbackClaimDelta for one member, scaled by how many were claimed. Its commit may be asynchronous: nothing
 * leaves for the mailstore before the send permit's synchronous commit, which makes this one durable too.
 */
export async function claimRollbackBatch(
  sql: Sql,
  waveId: string,
  size: number,
  workerId: string,
  leaseMs: number,
  /** Members at or below it were claimed by this pump already (see claimForwardBatch). */
  floor = 0,
): Promise<ClaimedBatch | null> {
  const perMember = counterParams(rollbackClaimDelta(1));
  const rows = await sql<StoredMemberRow & { batch_id: string; idempotency_key: string }>(
    `WITH b AS (SELECT nextval(pg_get_serial_sequence('wave_batches', 'id')) AS id),
     claimed AS (
       UPDATE wave_members m SET rollback_state = 'in_flight', rollback_batch_id = (SELECT id FROM b)
       WHERE m.wave_id = $1 AND m.seq = ANY(ARRAY(
         SELECT seq FROM wave_members
          WHERE wave_id = $1 AND state = 'enabled' AND rollback_state IS NULL AND seq > $3
         ORDER BY seq LIMIT $2 FOR UPDATE SKIP LOCKED))
       RETURNING m.seq, m.account_id, m.prior_imap, m.prior_pop3, m.result_version),
     stats AS (SELECT count(*)::int AS n, min(seq) AS first_seq, max(seq) AS last_seq FROM claimed),
     batch AS (
       INSERT INTO wave_batches (id, wave_id, kind, batch_no, size, first_seq, last_seq, idempotency_key, claimed_by,
                                 lease_until)
       OVERRIDING SYSTEM VALUE
       SELECT b.id, $1, 'rollback', b.id, s.n, s.first_seq, s.last_seq, ${batchKeySql('$1', 'rollback', 'b.id')},
              $4, now() + ($5 || ' milliseconds')::interval
         FROM b, stats s WHERE s.n > 0
       RETURNING idempotency_key),
     counted AS (
       ${countersUpsertSql(`SELECT $1, t.n, t.c * s.n FROM unnest($6::text[], $7::bigint[]) AS t(n, c), stats s
        WHERE s.n > 0 AND (SELECT count(*) FROM batch) >= 0`)}),
     async_commit AS (SELECT set_config('synchronous_commit', 'off', true) AS v)
     SELECT (SELECT id FROM b) AS batch_id, (SELECT idempotency_key FROM batch) AS idempotency_key, c.seq,
            c.account_id, a.login, c.prior_imap, c.prior_pop3, c.result_version AS version
       FROM claimed c JOIN accounts a ON a.id = c.account_id, async_commit ORDER BY c.seq`,
    [waveId, size, floor, workerId, String(leaseMs), perMember.names, perMember.values],
  );
  if (!rows.length) return null;
  return {
    id: Number(rows[0].batch_id),
    waveId,
    kind: 'rollback',
    idempotencyKey: rows[0].idempotency_key,
    attempts: 0,
    fence: 1,
    inDoubt: false,
    members: rows.map(memberFromRow),
  };
}
