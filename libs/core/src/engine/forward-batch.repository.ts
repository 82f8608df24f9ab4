import { batchKeySql, claimDelta } from '@app/domain';
import { ClaimedBatch, memberFromRow, StoredMemberRow } from './batch.types';
import { ELIGIBILITY_COLUMNS, EligibilityRow } from './send-permit.repository';
import { Sql } from '../db/sql';
import { counterParams, countersUpsertSql } from '../db/wave-counters';

export interface ClaimResult {
  /** Null when nothing was left to claim (within the current ramp step). */
  batch: ClaimedBatch | null;
  /** The members' accounts as read by the claim, for the batch's first permit. */
  accounts: EligibilityRow[];
  /** Highest seq claimed: the pump's floor for its next claim (the index scan starts there). */
  lastSeq: number;
}

/**
 * Claims the next pending members of a wave in seq order (SKIP LOCKED, so pumps never take the same member) and
 * creates the batch row with its idempotency key, in one statement: members, the batch row, then the counters
 * (they read the others' rows first, so the hot counter rows are locked last). Nothing is decided here: the
 * eligibility of each member and the prior state the request is built from are decided by the batch's send
 * permit (send-permit.repository.ts), right before the call, on the accounts as this statement read them
 * (returned with the eligibility epoch of the read: the permit commits only if no hold or import came since). The pump claims only once its pace slot has come,
 * so it never holds members while it waits.
 *
 * Its commit may be asynchronous: nothing leaves for the mailstore before the permit's synchronous commit, which
 * makes this one durable too. `floor`: members at or below it were claimed by this pump already (the pending index
 * is scanned from there instead of from its start, which grows with dead entries until a vacuum).
 */
export async function claimForwardBatch(
  sql: Sql,
  wave: { id: string; stepLimitSeq: number | null },
  size: number,
  workerId: string,
  leaseMs: number,
  floor = 0,
): Promise<ClaimResult> {
  const perMember = counterParams(claimDelta(1));
  const rows = await sql<StoredMemberRow & EligibilityRow & { batch_id: string; idempotency_key: string }>(
    `WITH b AS (SELECT nextval(pg_get_serial_sequence('wave_batches', 'id')) AS id),
     claimed AS (
       UPDATE wave_members m SET state = 'in_flight', batch_id = (SELECT id FROM b), attempts = m.attempts + 1
       WHERE m.wave_id = $1 AND m.seq = ANY(ARRAY(
         SELECT seq FROM wave_members
          WHERE wave_id = $1 AND state = 'pending' AND seq > $3 AND seq <= $4
         ORDER BY seq LIMIT $2 FOR UPDATE SKIP LOCKED))
       RETURNING m.seq, m.account_id),
     stats AS (SELECT count(*)::int AS n, min(seq) AS first_seq, max(seq) AS last_seq FROM claimed),
     batch AS (
       INSERT INTO wave_batches (id, wave_id, kind, batch_no, size, first_seq, last_seq, idempotency_key, claimed_by,
                                 lease_until)
       OVERRIDING SYSTEM VALUE
       SELECT b.id, $1, 'forward', b.id, s.n, s.first_seq, s.last_seq, ${batchKeySql('$1', 'forward', 'b.id')},
              $5, now() + ($6 || ' milliseconds')::interval
         FROM b, stats s WHERE s.n > 0
       RETURNING idempotency_key),
     counted AS (
       ${countersUpsertSql(`SELECT $1, t.n, t.c * s.n FROM unnest($7::text[], $8::bigint[]) AS t(n, c), stats s
        WHERE s.n > 0 AND (SELECT count(*) FROM batch) >= 0`)}),
     async_commit AS (SELECT set_config('synchronous_commit', 'off', true) AS v)
     SELECT (SELECT id FROM b) AS batch_id, (SELECT idempotency_key FROM batch) AS idempotency_key, c.seq,
            NULL::boolean AS prior_imap, NULL::boolean AS prior_pop3, NULL::int AS version, ${ELIGIBILITY_COLUMNS}
       FROM claimed c JOIN accounts a ON a.id = c.account_id, async_commit ORDER BY c.seq`,
    [
      wave.id,
      size,
      floor,
      wave.stepLimitSeq ?? 2147483647,
      workerId,
      String(leaseMs),
      perMember.names,
      perMember.values,
    ],
  );
  if (!rows.length) return { batch: null, accounts: [], lastSeq: floor };
  return {
    batch: {
      id: Number(rows[0].batch_id),
      waveId: wave.id,
      kind: 'forward',
      idempotencyKey: rows[0].idempotency_key,
      attempts: 0,
      fence: 1,
      inDoubt: false,
      members: rows.map(memberFromRow),
    },
    accounts: rows,
    lastSeq: rows[rows.length - 1].seq,
  };
}
