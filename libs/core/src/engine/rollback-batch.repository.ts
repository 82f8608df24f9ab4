import { rollbackClaimDelta } from '@app/domain';
import { ClaimedBatch } from './batch.types';
import { claimBatchSql, claimedBatchOf, ClaimRow } from './batch-claim.sql';
import { Sql } from '../db/sql';
import { SqlParams } from '../db/sql-params';

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
