import { releaseDelta, rollbackReleaseDelta, settleDelta } from '@app/domain';
import { BatchKind, BatchLostError, ClaimedBatch, memberFromRow, StoredMemberRow } from './batch.types';
import { applyCounters, Sql } from './sql';

/*
 * A claimed batch's ownership and life between its claim and its settle: the attempt mark before each call, the
 * lease kept while waiting, a takeover after a lease expired, a release when it never left, and members put on
 * hold since the claim. The settle itself (the answer) is in batch-settle.repository.ts.
 */

/**
 * Hands back a batch that was never sent (paused or halted before its first attempt): members pend again,
 * the key is retired unused. If the wave was cancelled or is being rolled back meanwhile, the members end as
 * cancelled instead (cancel already turned every other pending member into cancelled). A batch that may have
 * reached the mailstore is never released: it keeps its key.
 */
export async function releaseBatch(sql: Sql, batch: ClaimedBatch): Promise<void> {
  const seqs = batch.members.map((x) => x.seq);
  if (batch.kind === 'forward') {
    const [w] = await sql<{ state: string }>(`SELECT state FROM waves WHERE id = $1 FOR SHARE`, [batch.waveId]);
    const resumable = w !== undefined && ['running', 'paused', 'halted'].includes(w.state);
    await sql(
      `UPDATE wave_members
          SET state = $3, batch_id = NULL, attempts = GREATEST(attempts - 1, 0),
              reason = CASE WHEN $3 = 'cancelled' THEN 'wave_stopped' END,
              done_at = CASE WHEN $3 = 'cancelled' THEN now() END
        WHERE wave_id = $1 AND seq = ANY($2::int[])`,
      [batch.waveId, seqs, resumable ? 'pending' : 'cancelled'],
    );
    await applyCounters(
      sql,
      batch.waveId,
      resumable ? releaseDelta(seqs.length) : { in_flight: -seqs.length, cancelled: seqs.length },
    );
  } else {
    await sql(
      `UPDATE wave_members SET rollback_state = NULL, rollback_batch_id = NULL WHERE wave_id = $1 AND seq = ANY($2::int[])`,
      [batch.waveId, seqs],
    );
    await applyCounters(sql, batch.waveId, rollbackReleaseDelta(seqs.length));
  }
  await sql(`UPDATE wave_batches SET state = 'released', completed_at = now() WHERE id = $1`, [batch.id]);
}

/**
 * Takes over one batch whose lease expired (its worker died or stalled) and rebuilds it exactly as claimed,
 * so it is sent again under its own idempotency key.
 */
export async function takeOverStaleBatch(
  sql: Sql,
  waveId: string,
  kind: BatchKind,
  workerId: string,
  leaseMs: number,
): Promise<ClaimedBatch | null> {
  const [b] = await sql<{ id: string; idempotency_key: string; attempts: number }>(
    `UPDATE wave_batches SET claimed_by = $3, lease_until = now() + ($4 || ' milliseconds')::interval
      WHERE id = (SELECT id FROM wave_batches WHERE wave_id = $1 AND kind = $2 AND state = 'claimed' AND lease_until < now()
                  ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
      RETURNING id, idempotency_key, attempts`,
    [waveId, kind, workerId, String(leaseMs)],
  );
  if (!b) return null;
  const column = kind === 'forward' ? 'batch_id' : 'rollback_batch_id';
  const rows = await sql<StoredMemberRow>(
    `SELECT m.seq, m.account_id, a.login, m.prior_imap, m.prior_pop3,
            ${kind === 'forward' ? 'm.prior_version' : 'm.result_version'} AS version
       FROM wave_members m JOIN accounts a ON a.id = m.account_id
      WHERE m.wave_id = $1 AND m.${column} = $2 AND m.${kind === 'forward' ? 'state' : 'rollback_state'} = 'in_flight'
      ORDER BY m.seq`,
    [waveId, b.id],
  );
  return {
    id: Number(b.id),
    waveId,
    kind,
    idempotencyKey: b.idempotency_key,
    attempts: b.attempts,
    members: rows.map(memberFromRow),
  };
}

/**
 * Members of a never-sent batch that support put on hold since the claim: skipped as `held` (terminal, with a
 * ledger row), the batch shrinks to the others, and closes if none is left. The batch had no attempt, so its
 * key has never been used and its body may still change.
 */
export async function skipHeldMembers(sql: Sql, batch: ClaimedBatch, seqs: number[]): Promise<void> {
  const held = batch.members.filter((m) => seqs.includes(m.seq));
  await sql(
    `UPDATE wave_members SET state = 'skipped', reason = 'held', done_at = now(), batch_id = NULL
      WHERE wave_id = $1 AND seq = ANY($2::int[])`,
    [batch.waveId, seqs],
  );
  await sql(
    `INSERT INTO audit_log (actor, action, wave_id, account_id, login, reason)
     SELECT 'engine', 'member.skipped', $1, a, l, 'held' FROM unnest($2::bigint[], $3::text[]) AS t(a, l)`,
    [batch.waveId, held.map((m) => m.accountId), held.map((m) => m.login)],
  );
  batch.members = batch.members.filter((m) => !seqs.includes(m.seq));
  await sql(
    `UPDATE wave_batches SET size = $2, state = CASE WHEN $2::int = 0 THEN 'done' ELSE state END,
            completed_at = CASE WHEN $2::int = 0 THEN now() END WHERE id = $1`,
    [batch.id, batch.members.length],
  );
  await applyCounters(sql, batch.waveId, settleDelta(held.map(() => ({ state: 'skipped' as const, reason: 'held' }))));
}

/**
 * Right before a call, under the wave's shared lock, in one statement: the wave is still in a state that allows
 * the call (and of the pump's generation), none of the members was put on hold since the claim (first forward
 * attempt only), and the batch is still ours; then the attempt is counted and the lease extended past the call's
 * timeout. Committed synchronously: the key's first use is durable before the call leaves (and with it every
 * earlier asynchronous commit, the claim's included).
 */
export async function markAttempt(
  sql: Sql,
  batch: ClaimedBatch,
  workerId: string,
  leaseMs: number,
  check: { generation: number; allowedStates: string[]; checkHolds: boolean },
): Promise<'attempted' | 'stopped' | { held: number[] }> {
  const [row] = await sql<{ callable: boolean; held: number[]; attempted: boolean }>(
    `WITH w AS (SELECT 1 FROM waves WHERE id = $4 AND generation = $5 AND state = ANY($6::text[])),
     held AS (SELECT m.seq FROM wave_members m JOIN accounts a ON a.id = m.account_id
               WHERE $7 AND m.wave_id = $4 AND m.seq = ANY($8::int[]) AND a.held),
     attempt AS (
       UPDATE wave_batches SET attempts = attempts + 1, lease_until = now() + ($3 || ' milliseconds')::interval
        WHERE id = $1 AND state = 'claimed' AND claimed_by = $2
          AND EXISTS (SELECT 1 FROM w) AND NOT EXISTS (SELECT 1 FROM held)
        RETURNING id)
     SELECT EXISTS (SELECT 1 FROM w) AS callable, ARRAY(SELECT seq FROM held ORDER BY seq) AS held,
            EXISTS (SELECT 1 FROM attempt) AS attempted`,
    [
      batch.id,
      workerId,
      String(leaseMs),
      batch.waveId,
      check.generation,
      check.allowedStates,
      check.checkHolds,
      check.checkHolds ? batch.members.map((m) => m.seq) : [],
    ],
  );
  if (!row.callable) return 'stopped';
  if (row.held.length) return { held: row.held };
  if (!row.attempted) throw new BatchLostError(batch.id);
  batch.attempts++;
  return 'attempted';
}

/** Keeps a batch ours while we wait (Retry-After, backoff) longer than its lease. */
export async function extendLease(sql: Sql, batch: ClaimedBatch, workerId: string, leaseMs: number): Promise<void> {
  const rows = await sql(
    `UPDATE wave_batches SET lease_until = now() + ($3 || ' milliseconds')::interval
      WHERE id = $1 AND state = 'claimed' AND claimed_by = $2 RETURNING id`,
    [batch.id, workerId, String(leaseMs)],
  );
  if (!rows.length) throw new BatchLostError(batch.id);
}
