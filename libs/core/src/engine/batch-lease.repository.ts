import { BatchKind, releaseCancelledDelta, releaseDelta, rollbackReleaseDelta, WAVE_STOPPED } from '@app/domain';
import { BatchLostError, BatchMember, ClaimedBatch, memberFromRow, StoredMemberRow } from './batch.types';
import { auditRowsSql } from '../db/audit-log';
import { Sql } from '../db/sql';
import { counterParams, countersUpsertSql } from '../db/wave-counters';

/*
 * A claimed batch's ownership between its claim and its settle: the lease kept while waiting, a takeover after a
 * lease expired (a new lease generation), a release when it never left. Every write names the lease generation
 * the worker holds (fencing). The permit before each call is in send-permit.repository.ts, the settle (the
 * answer) in batch-settle.repository.ts.
 */

/**
 * Hands back a batch that was never sent (paused or halted before its first attempt): members pend again,
 * the key is retired unused. If the wave was cancelled or is being rolled back meanwhile, the members end as
 * cancelled instead, each with a `member.cancelled` ledger row (cancel already turned every other pending member
 * into cancelled, counted in its own audit row). A batch that may have
 * reached the mailstore is never released: it keeps its key.
 *
 * One statement, fenced: it changes anything only if the batch is still claimed by this lease generation and was
 * never attempted, so a worker that lost its batch (its lease expired while it waited, it was frozen) cannot put
 * members another worker settled back to pending, nor count them twice. FOR SHARE of the wave row orders it with a
 * cancel: either the cancel commits first and the members end cancelled here, or it waits for this statement and
 * then cancels them as pending.
 */
export async function releaseBatch(sql: Sql, batch: ClaimedBatch): Promise<void> {
  if (batch.kind === 'forward') {
    // Per member; the statement multiplies by how many it released.
    const [r, c] = [counterParams(releaseDelta(1)), counterParams(releaseCancelledDelta(1))];
    await sql(
      `WITH w AS (SELECT state IN ('running', 'paused', 'halted') AS resumable FROM waves WHERE id = $1 FOR SHARE),
       fin AS (
         UPDATE wave_batches SET state = 'released', completed_at = now(), send_deadline = NULL
          WHERE id = $2 AND state = 'claimed' AND lease_gen = $3 AND attempts = 0 RETURNING id),
       members AS (
         UPDATE wave_members m
            SET state = CASE WHEN w.resumable THEN 'pending' ELSE 'cancelled' END, batch_id = NULL,
                attempts = GREATEST(m.attempts - 1, 0),
                reason = CASE WHEN w.resumable THEN NULL ELSE '${WAVE_STOPPED}' END,
                done_at = CASE WHEN w.resumable THEN NULL ELSE now() END
           FROM w, fin WHERE m.wave_id = $1 AND m.batch_id = fin.id AND m.state = 'in_flight'
         RETURNING m.account_id),
       ledger AS (
         ${auditRowsSql(
           {
             actor: `'engine'`,
             action: `'member.cancelled'`,
             waveId: '$1',
             accountId: 'a.id',
             login: 'a.login',
             reason: `'${WAVE_STOPPED}'`,
           },
           'FROM members r JOIN accounts a ON a.id = r.account_id, w WHERE NOT w.resumable',
         )}
         RETURNING 1),
       counted AS (
         ${countersUpsertSql(`SELECT $1, t.n, t.c * (SELECT count(*) FROM members)
           FROM w, unnest(CASE WHEN w.resumable THEN $4::text[] ELSE $6::text[] END,
                          CASE WHEN w.resumable THEN $5::bigint[] ELSE $7::bigint[] END) AS t(n, c)
          WHERE (SELECT count(*) FROM members) + (SELECT count(*) FROM ledger) > 0`)})
       SELECT 1`,
      [batch.waveId, batch.id, batch.fence, r.names, r.values, c.names, c.values],
    );
  } else {
    const d = counterParams(rollbackReleaseDelta(1));
    await sql(
      `WITH fin AS (
         UPDATE wave_batches SET state = 'released', completed_at = now(), send_deadline = NULL
          WHERE id = $2 AND state = 'claimed' AND lease_gen = $3 AND attempts = 0 RETURNING id),
       members AS (
         UPDATE wave_members m SET rollback_state = NULL, rollback_batch_id = NULL
           FROM fin WHERE m.wave_id = $1 AND m.rollback_batch_id = fin.id AND m.rollback_state = 'in_flight'
         RETURNING 1),
       counted AS (
         ${countersUpsertSql(`SELECT $1, t.n, t.c * (SELECT count(*) FROM members) FROM unnest($4::text[], $5::bigint[]) AS t(n, c)
          WHERE (SELECT count(*) FROM members) > 0`)})
       SELECT 1`,
      [batch.waveId, batch.id, batch.fence, d.names, d.values],
    );
  }
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
  const [b] = await sql<{
    id: string;
    idempotency_key: string;
    attempts: number;
    lease_gen: number;
    in_doubt: boolean;
    priors: [number, boolean, boolean, number | null][] | null;
  }>(
    `UPDATE wave_batches SET claimed_by = $3, lease_until = now() + ($4 || ' milliseconds')::interval,
            lease_gen = lease_gen + 1, send_deadline = NULL
      WHERE id = (SELECT id FROM wave_batches WHERE wave_id = $1 AND kind = $2 AND state = 'claimed' AND lease_until < now()
                  ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
      RETURNING id, idempotency_key, attempts, lease_gen, in_doubt, priors`,
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
    fence: b.lease_gen,
    inDoubt: b.in_doubt,
    members: kind === 'forward' && b.priors ? withPriors(rows.map(memberFromRow), b.priors) : rows.map(memberFromRow),
  };
}

/**
 * An answer said the batch's attempt applied nothing (429, 503, a failure before the request left): unless another
 * attempt is in doubt, its next permit decides again on the accounts as they are then. Fenced.
 */
export async function markNothingApplied(sql: Sql, batch: ClaimedBatch, inDoubtBefore: boolean): Promise<void> {
  const rows = await sql(
    `UPDATE wave_batches SET in_doubt = $3 WHERE id = $1 AND state = 'claimed' AND lease_gen = $2 RETURNING id`,
    [batch.id, batch.fence, inDoubtBefore],
  );
  if (!rows.length) throw new BatchLostError(batch.id);
  batch.inDoubt = inDoubtBefore;
}

/** Keeps a batch ours while we wait (Retry-After, backoff) longer than its lease. */
export async function extendLease(sql: Sql, batch: ClaimedBatch, leaseMs: number): Promise<void> {
  const rows = await sql(
    `UPDATE wave_batches SET lease_until = now() + ($3 || ' milliseconds')::interval
      WHERE id = $1 AND state = 'claimed' AND lease_gen = $2 RETURNING id`,
    [batch.id, batch.fence, String(leaseMs)],
  );
  if (!rows.length) throw new BatchLostError(batch.id);
}

/** A forward batch's members with the prior state its first permit recorded on the batch row (the request's source). */
function withPriors(members: BatchMember[], priors: [number, boolean, boolean, number | null][]): BatchMember[] {
  const bySeq = new Map(priors.map(([seq, imap, pop3, version]) => [seq, { imap, pop3, version }]));
  return members.map((m) => {
    const p = bySeq.get(m.seq);
    return p ? { ...m, priorImap: p.imap, priorPop3: p.pop3, version: p.version } : m;
  });
}
