import { rollbackClaimDelta, rollbackQueueDelta } from '@app/domain';
import { ClaimedBatch } from './batch.types';
import { claimBatchSql, claimedBatchOf, ClaimRow } from './batch-claim.sql';
import { Sql } from '../db/sql';
import { SqlParams } from '../db/sql-params';
import { applyCounters } from '../db/wave-counters';

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

/** The statements of the rollback lane's claim (its settle is BatchSettleRepository's). */
export class RollbackBatchRepository {
  /** Whether any member still waits for restoration (one probe of the rollback index). */
  async anyLeft(sql: Sql, waveId: string): Promise<boolean> {
    const rows = await sql(
      `SELECT 1 FROM wave_members WHERE wave_id = $1 AND state = 'enabled' AND rollback_state IS NULL LIMIT 1`,
      [waveId],
    );
    return rows.length > 0;
  }

  /**
   * Claims the next members to restore (enabled, not yet restored) and creates their batch (claimBatchSql: one
   * statement), with each member's recorded prior state and the version our forward change produced (ifVersion).
   */
  async claim(
    sql: Sql,
    waveId: string,
    size: number,
    workerId: string,
    leaseMs: number,
    /** Members at or below it were claimed by this pump already (see ForwardBatchRepository.claim). */
    floor = 0,
  ): Promise<ClaimedBatch | null> {
    const p = new SqlParams();
    const text = claimBatchSql(
      p,
      {
        kind: 'rollback',
        set: `rollback_state = 'in_flight', rollback_batch_id = (SELECT id FROM b)`,
        claimable: () => `state = 'enabled' AND rollback_state IS NULL`,
        returning: 'm.seq, m.account_id, m.prior_imap, m.prior_pop3, m.result_version',
        select: 'c.account_id, a.login, c.prior_imap, c.prior_pop3, c.result_version AS version',
        perMember: rollbackClaimDelta(1),
      },
      { waveId, size, floor, workerId, leaseMs },
    );
    return claimedBatchOf('rollback', waveId, await sql<ClaimRow>(text, p.values));
  }
}
