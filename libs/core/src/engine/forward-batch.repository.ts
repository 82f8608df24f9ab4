import { claimDelta } from '@app/domain';
import { ClaimedBatch, EligibilityRow } from './batch.types';
import { claimBatchSql, claimedBatchOf, ClaimRow } from './batch-claim.sql';
import { ELIGIBILITY_COLUMNS } from './send-permit.repository';
import { Sql } from '../db/sql';
import { SqlParams } from '../db/sql-params';

export interface ClaimResult {
  /** Null when nothing was left to claim (within the current ramp step). */
  batch: ClaimedBatch | null;
  /** The members' accounts as read by the claim, for the batch's first permit. */
  accounts: EligibilityRow[];
  /** Highest seq claimed: the pump's floor for its next claim (the index scan starts there). */
  lastSeq: number;
}

/** The statements of the forward lane's claim (its permit is SendPermitRepository's, its settle BatchSettleRepository's). */
export class ForwardBatchRepository {
  /**
   * Claims the next pending members of a wave within the current ramp step, in seq order, and creates their batch
   * (claimBatchSql: one statement). Nothing is decided here: the eligibility of each member and the prior state the
   * request is built from are decided by the batch's send permit, right before the call, on the accounts as this
   * statement read them (returned with the eligibility epoch of the read: the permit commits only if no hold or import
   * came since). The pump claims only once its pace slot has come, so it never holds members while it waits.
   * `floor`: members at or below it were claimed by this pump already (the pending index is scanned from there
   * instead of from its start, which grows with dead entries until a vacuum).
   */
  async claim(
    sql: Sql,
    wave: { id: string; stepLimitSeq: number | null },
    size: number,
    workerId: string,
    leaseMs: number,
    floor = 0,
  ): Promise<ClaimResult> {
    const p = new SqlParams();
    const text = claimBatchSql(
      p,
      {
        kind: 'forward',
        set: `state = 'in_flight', batch_id = (SELECT id FROM b), attempts = m.attempts + 1`,
        claimable: (q) => `state = 'pending' AND seq <= ${q.add(wave.stepLimitSeq ?? 2147483647)}`,
        returning: 'm.seq, m.account_id',
        select: `NULL::boolean AS prior_imap, NULL::boolean AS prior_pop3, NULL::int AS version, ${ELIGIBILITY_COLUMNS}`,
        perMember: claimDelta(1),
      },
      { waveId: wave.id, size, floor, workerId, leaseMs },
    );
    const rows = await sql<ClaimRow & EligibilityRow>(text, p.values);
    return {
      batch: claimedBatchOf('forward', wave.id, rows),
      accounts: rows,
      lastSeq: rows.length ? rows[rows.length - 1].seq : floor,
    };
  }
}
