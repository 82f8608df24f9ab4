import { BatchKind, batchKeySql, CounterDelta } from '@app/domain';
import { ClaimedBatch, memberFromRow, StoredMemberRow } from './batch.types';
import { SqlParams } from '../db/sql-params';
import { counterParams, countersUpsertSql } from '../db/wave-counters';

/** What differs between a forward and a rollback claim: which members, how they are marked, what is read back. */
export interface ClaimShape {
  kind: BatchKind;
  /** The SET list of a claimed member `m`; `(SELECT id FROM b)` is the new batch's id. */
  set: string;
  /** The claimable members of wave_members (besides the wave and the floor), in the claim's index order. */
  claimable: (p: SqlParams) => string;
  /** Columns of `m` the claimed rows return (seq and account_id first). */
  returning: string;
  /** The statement's own columns over `c` (claimed) and `a` (accounts), after batch_id, idempotency_key, c.seq. */
  select: string;
  /** The counters' change for one member claimed (the statement multiplies by how many it claimed). */
  perMember: CounterDelta;
}

/** Who claims, for how long, how many, from where. */
export interface ClaimArgs {
  waveId: string;
  size: number;
  /** Members at or below it were claimed by this pump already: the index scan starts after it. */
  floor: number;
  workerId: string;
  leaseMs: number;
}

/**
 * The one claim statement of both lanes: the next members (SKIP LOCKED, so pumps never take the same member, from the
 * pump's floor), the batch row with its durable idempotency key (the domain's, as SQL), then the counters (they read
 * the others' rows first, so the hot counter rows are locked last). Its commit may be asynchronous: nothing leaves for
 * the mailstore before the send permit's synchronous commit, which makes this one durable too.
 */
export function claimBatchSql(p: SqlParams, shape: ClaimShape, args: ClaimArgs): string {
  const wave = p.add(args.waveId);
  const counters = counterParams(shape.perMember);
  return `WITH b AS (SELECT nextval(pg_get_serial_sequence('wave_batches', 'id')) AS id),
     claimed AS (
       UPDATE wave_members m SET ${shape.set}
       WHERE m.wave_id = ${wave} AND m.seq = ANY(ARRAY(
         SELECT seq FROM wave_members
          WHERE wave_id = ${wave} AND ${shape.claimable(p)} AND seq > ${p.add(args.floor)}
         ORDER BY seq LIMIT ${p.add(args.size)} FOR UPDATE SKIP LOCKED))
       RETURNING ${shape.returning}),
     stats AS (SELECT count(*)::int AS n, min(seq) AS first_seq, max(seq) AS last_seq FROM claimed),
     batch AS (
       INSERT INTO wave_batches (id, wave_id, kind, batch_no, size, first_seq, last_seq, idempotency_key, claimed_by,
                                 lease_until)
       OVERRIDING SYSTEM VALUE
       SELECT b.id, ${wave}, '${shape.kind}', b.id, s.n, s.first_seq, s.last_seq, ${batchKeySql(wave, shape.kind, 'b.id')},
              ${p.add(args.workerId)}, now() + (${p.add(String(args.leaseMs))} || ' milliseconds')::interval
         FROM b, stats s WHERE s.n > 0
       RETURNING idempotency_key),
     counted AS (
       ${countersUpsertSql(`SELECT ${wave}, t.n, t.c * s.n FROM unnest(${p.add(counters.names, 'text[]')}, ${p.add(counters.values, 'bigint[]')}) AS t(n, c), stats s
        WHERE s.n > 0 AND (SELECT count(*) FROM batch) >= 0`)}),
     async_commit AS (SELECT set_config('synchronous_commit', 'off', true) AS v)
     SELECT (SELECT id FROM b) AS batch_id, (SELECT idempotency_key FROM batch) AS idempotency_key, c.seq,
            ${shape.select}
       FROM claimed c JOIN accounts a ON a.id = c.account_id, async_commit ORDER BY c.seq`;
}

/** A claim's row: the new batch's id and key on every row, and one member. */
export type ClaimRow = StoredMemberRow & { batch_id: string; idempotency_key: string };

/** The batch a claim created, from its rows (null when it claimed nothing). */
export function claimedBatchOf(kind: BatchKind, waveId: string, rows: readonly ClaimRow[]): ClaimedBatch | null {
  if (!rows.length) return null;
  return {
    id: Number(rows[0].batch_id),
    waveId,
    kind,
    idempotencyKey: rows[0].idempotency_key,
    attempts: 0,
    keySince: 0,
    fence: 1,
    inDoubt: false,
    members: rows.map(memberFromRow),
  };
}
