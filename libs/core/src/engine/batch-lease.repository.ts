import { BatchKind, releaseCancelledDelta, releaseDelta, rollbackReleaseDelta, WAVE_STOPPED } from '@app/domain';
import { BatchMember, ClaimedBatch, memberFromRow, StoredMemberRow } from './batch.types';
import { auditRowsSql } from '../db/audit-log';
import { Sql } from '../db/sql';
import { SqlParams } from '../db/sql-params';
import { ROLLBACK_IF_VERSION } from './rollback-batch.repository';
import { counterParams, countersUpsertSql } from '../db/wave-counters';

/** The batch row a lease write names: its id and the lease generation the worker holds (fencing). */
type LeasedBatch = Pick<ClaimedBatch, 'id' | 'waveId' | 'fence'>;

/** A forward batch's recorded prior state per member: [seq, imap, pop3, version] (its first permit's `priors`). */
type Priors = [number, boolean, boolean, number | null][];

/*
 * A claimed batch's ownership between its claim and its settle: the lease kept while waiting, a takeover after a
 * lease expired (a new lease generation), a release when it never left. Every write names the lease generation
 * the worker holds (fencing): a write that finds the batch no longer ours changes nothing and answers false. The
 * permit before each call is in send-permit.repository.ts, the settle (the answer) in batch-settle.repository.ts.
 */
export class BatchLeaseRepository {
  /**
   * Hands back a batch that was never sent (paused or halted before its first attempt): members pend again,
   * the key is retired unused. If the wave was cancelled or is being rolled back meanwhile, the members end as
   * cancelled instead, each with a `member.cancelled` ledger row (cancel already turned every other pending member
   * into cancelled, counted in its own audit row). A forward batch whose attempts all applied nothing (429, 503, a
   * failure before the request left: not in doubt) is released too once its wave was cancelled or is being rolled
   * back: nothing of it may be sent any more (a retry would be decided again, and a stopped wave grants no new
   * decision), so without this its members would stay in flight for ever. A batch that may have reached the
   * mailstore with an effect (in doubt) is never released: it keeps its key. True when it released the batch.
   *
   * One statement, fenced: it changes anything only if the batch is still claimed by this lease generation and was
   * never attempted, so a worker that lost its batch (its lease expired while it waited, it was frozen) cannot put
   * members another worker settled back to pending, nor count them twice.
   */
  async release(
    sql: Sql,
    batch: Pick<ClaimedBatch, 'id' | 'waveId' | 'fence' | 'kind'>,
    /** Attempted, but no attempt applied anything (a 413 to a batch never in doubt): released whatever the wave's state. */
    unapplied = false,
  ): Promise<boolean> {
    const p = new SqlParams();
    const [row] = await sql<{ released: string }>(
      batch.kind === 'forward' ? releaseForwardSql(p, batch, unapplied) : releaseRollbackSql(p, batch, unapplied),
      p.values,
    );
    return Number(row?.released ?? 0) > 0;
  }

  /**
   * Takes over one batch whose lease expired (its worker died or stalled) and rebuilds it exactly as claimed,
   * so it is sent again under its own idempotency key.
   */
  async takeOverStale(
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
      key_since: number;
      lease_gen: number;
      in_doubt: boolean;
      priors: Priors | null;
    }>(
      `UPDATE wave_batches SET claimed_by = $3, lease_until = now() + ($4 || ' milliseconds')::interval,
              lease_gen = lease_gen + 1, send_deadline = NULL, parked_at = NULL
        WHERE id = (SELECT id FROM wave_batches WHERE wave_id = $1 AND kind = $2 AND state = 'claimed' AND lease_until < now()
                    ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
        RETURNING id, idempotency_key, attempts, key_since, lease_gen, in_doubt, priors`,
      [waveId, kind, workerId, String(leaseMs)],
    );
    if (!b) return null;
    const rows = await this.inFlightMembers(sql, waveId, kind, b.id);
    const members = rows.map(memberFromRow);
    return {
      id: Number(b.id),
      waveId,
      kind,
      idempotencyKey: b.idempotency_key,
      attempts: b.attempts,
      keySince: b.key_since,
      fence: b.lease_gen,
      inDoubt: b.in_doubt,
      members: kind === 'forward' && b.priors ? withPriors(members, b.priors) : members,
    };
  }

  /**
   * Records that the batch's last attempt applied nothing (429, 503, a failure before the request left): its doubt
   * goes back to what it was before that attempt. False when the batch is no longer ours.
   */
  async markNothingApplied(sql: Sql, batch: LeasedBatch, inDoubtBefore: boolean): Promise<boolean> {
    const rows = await sql(
      `UPDATE wave_batches SET in_doubt = $3 WHERE id = $1 AND state = 'claimed' AND lease_gen = $2 RETURNING id`,
      [batch.id, batch.fence, inDoubtBefore],
    );
    return rows.length > 0;
  }

  /**
   * Keeps a batch that was attempted for its retry when its wave stopped (it keeps its key, members and doubt): its
   * lease ends now, so the first pump after a resume takes it over and sends it at once instead of waiting for the
   * lease to expire, and progress counts its members as waiting for a retry (`parked_at`) until then. Fenced: a batch
   * no longer ours is left as its owner has it.
   */
  async park(sql: Sql, batch: LeasedBatch): Promise<void> {
    await sql(
      `UPDATE wave_batches SET lease_until = now(), parked_at = now(), send_deadline = NULL
        WHERE id = $1 AND state = 'claimed' AND lease_gen = $2 AND attempts > 0`,
      [batch.id, batch.fence],
    );
  }

  /** Extends the batch's lease to `leaseMs` from now. False when the batch is no longer ours. */
  async extendLease(sql: Sql, batch: LeasedBatch, leaseMs: number): Promise<boolean> {
    const rows = await sql(
      `UPDATE wave_batches SET lease_until = now() + ($3 || ' milliseconds')::interval
        WHERE id = $1 AND state = 'claimed' AND lease_gen = $2 RETURNING id`,
      [batch.id, batch.fence, String(leaseMs)],
    );
    return rows.length > 0;
  }

  /** A batch's members still in flight, as stored, in seq order (forward: the version before; rollback: ours). */
  private inFlightMembers(sql: Sql, waveId: string, kind: BatchKind, batchId: string): Promise<StoredMemberRow[]> {
    const column = kind === 'forward' ? 'batch_id' : 'rollback_batch_id';
    return sql<StoredMemberRow>(
      `SELECT m.seq, m.account_id, a.login, m.prior_imap, m.prior_pop3,
              ${kind === 'forward' ? 'm.prior_version' : ROLLBACK_IF_VERSION('m')} AS version
         FROM wave_members m JOIN accounts a ON a.id = m.account_id
        WHERE m.wave_id = $1 AND m.${column} = $2 AND m.${kind === 'forward' ? 'state' : 'rollback_state'} = 'in_flight'
        ORDER BY m.seq`,
      [waveId, batchId],
    );
  }
}

/**
 * A forward release. FOR SHARE of the wave row orders it with a cancel: either the cancel commits first and the
 * members end cancelled here, or it waits for this statement and then cancels them as pending. Counters per member
 * released, multiplied by how many it released.
 */
function releaseForwardSql(p: SqlParams, batch: LeasedBatch, unapplied: boolean): string {
  const [r, c] = [counterParams(releaseDelta(1)), counterParams(releaseCancelledDelta(1))];
  const wave = p.add(batch.waveId);
  return `WITH w AS (SELECT state IN ('running', 'paused', 'halted') AS resumable FROM waves WHERE id = ${wave} FOR SHARE),
       fin AS (${releasedBatchSql(p, batch, unapplied ? 'NOT in_doubt' : '(attempts = 0 OR (NOT in_doubt AND NOT (SELECT resumable FROM w)))')}),
       members AS (
         UPDATE wave_members m
            SET state = CASE WHEN w.resumable THEN 'pending' ELSE 'cancelled' END, batch_id = NULL,
                attempts = GREATEST(m.attempts - 1, 0),
                reason = CASE WHEN w.resumable THEN NULL ELSE '${WAVE_STOPPED}' END,
                done_at = CASE WHEN w.resumable THEN NULL ELSE now() END
           FROM w, fin WHERE m.wave_id = ${wave} AND m.batch_id = fin.id AND m.state = 'in_flight'
         RETURNING m.account_id),
       ledger AS (
         ${auditRowsSql(
           {
             actor: `'engine'`,
             action: `'member.cancelled'`,
             waveId: wave,
             accountId: 'a.id',
             login: 'a.login',
             reason: `'${WAVE_STOPPED}'`,
           },
           'FROM members r JOIN accounts a ON a.id = r.account_id, w WHERE NOT w.resumable',
         )}
         RETURNING 1),
       counted AS (
         ${countersUpsertSql(`SELECT ${wave}, t.n, t.c * (SELECT count(*) FROM members)
           FROM w, unnest(CASE WHEN w.resumable THEN ${p.add(r.names, 'text[]')} ELSE ${p.add(c.names, 'text[]')} END,
                          CASE WHEN w.resumable THEN ${p.add(r.values, 'bigint[]')} ELSE ${p.add(c.values, 'bigint[]')} END) AS t(n, c)
          WHERE (SELECT count(*) FROM members) + (SELECT count(*) FROM ledger) > 0`)})
       SELECT count(*) AS released FROM fin`;
}

/** A rollback release: the members wait for restoration again. */
function releaseRollbackSql(p: SqlParams, batch: LeasedBatch, unapplied: boolean): string {
  const d = counterParams(rollbackReleaseDelta(1));
  const wave = p.add(batch.waveId);
  return `WITH fin AS (${releasedBatchSql(p, batch, unapplied ? 'NOT in_doubt' : 'attempts = 0')}),
       members AS (
         UPDATE wave_members m SET rollback_state = NULL, rollback_batch_id = NULL
           FROM fin WHERE m.wave_id = ${wave} AND m.rollback_batch_id = fin.id AND m.rollback_state = 'in_flight'
         RETURNING 1),
       counted AS (
         ${countersUpsertSql(`SELECT ${wave}, t.n, t.c * (SELECT count(*) FROM members) FROM unnest(${p.add(d.names, 'text[]')}, ${p.add(d.values, 'bigint[]')}) AS t(n, c)
          WHERE (SELECT count(*) FROM members) > 0`)})
       SELECT count(*) AS released FROM fin`;
}

/** The fenced close of a released batch (still claimed by this lease generation, and `releasable`). */
function releasedBatchSql(p: SqlParams, batch: LeasedBatch, releasable: string): string {
  return `
         UPDATE wave_batches SET state = 'released', completed_at = now(), send_deadline = NULL
          WHERE id = ${p.add(batch.id)} AND state = 'claimed' AND lease_gen = ${p.add(batch.fence)} AND ${releasable} RETURNING id`;
}

/** A forward batch's members with the prior state its first permit recorded on the batch row (the request's source). */
function withPriors(members: BatchMember[], priors: Priors): BatchMember[] {
  const bySeq = new Map(priors.map(([seq, imap, pop3, version]) => [seq, { imap, pop3, version }]));
  return members.map((m) => {
    const p = bySeq.get(m.seq);
    return p ? { ...m, priorImap: p.imap, priorPop3: p.pop3, version: p.version } : m;
  });
}
