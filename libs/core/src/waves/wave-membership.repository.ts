import { WAVE_STOPPED } from '@app/domain';
import { Sql } from '../db/sql';
import { SqlParams } from '../db/sql-params';
import { selectorWhereSql } from './wave-selector';
import type { WaveRow } from './wave.repository';

/**
 * The bulk membership statements behind lifecycle commands, run in the command's transaction (under the wave's
 * lock): freezing the selector at start, the ramp's limit, cancelling what is still pending, and what a rollback
 * will restore. SQL only: the counters and the audit rows they imply are WaveCommandRunner's.
 */
export class WaveMembershipRepository {
  /** Resolves the selector once, in a deterministic order (account id), so batches never reshuffle. Returns how many. */
  async insertMembers(sql: Sql, wave: Pick<WaveRow, 'id' | 'selector' | 'protocols'>): Promise<number> {
    const p = new SqlParams();
    const waveId = p.add(wave.id);
    const where = selectorWhereSql(wave.selector, wave.protocols, p.add);
    const [row] = await sql<{ n: string }>(
      `WITH ins AS (
         INSERT INTO wave_members (wave_id, seq, account_id)
         SELECT ${waveId}, row_number() OVER (ORDER BY a.id), a.id FROM accounts a WHERE ${where}
         RETURNING 1)
       SELECT count(*) AS n FROM ins`,
      p.values,
    );
    return Number(row.n);
  }

  /** The frozen membership's size and the first step's limit. */
  async recordMembership(sql: Sql, waveId: string, members: number, stepLimitSeq: number): Promise<void> {
    await sql(
      `UPDATE waves SET member_count = $2, membership_frozen_at = now(), step_limit_seq = $3, current_step = 0 WHERE id = $1`,
      [waveId, members, stepLimitSeq],
    );
  }

  async setStepLimit(sql: Sql, waveId: string, stepLimitSeq: number): Promise<void> {
    await sql(`UPDATE waves SET step_limit_seq = $2 WHERE id = $1`, [waveId, stepLimitSeq]);
  }

  /**
   * Ends every member still pending as cancelled (reason `wave_stopped`); returns how many. Their ledger entry is the
   * command's own audit row, which carries this count (one row per member would be a million rows in the command).
   */
  async cancelPending(sql: Sql, waveId: string): Promise<number> {
    const [row] = await sql<{ n: string }>(
      `WITH c AS (UPDATE wave_members SET state = 'cancelled', reason = '${WAVE_STOPPED}', done_at = now()
                   WHERE wave_id = $1 AND state = 'pending' RETURNING 1)
       SELECT count(*) AS n FROM c`,
      [waveId],
    );
    return Number(row.n);
  }

  /**
   * The members a rollback will restore and not counted yet, without touching them: every enabled member whose
   * rollback_state is still null waits for restoration once the wave's rollback has begun (the claim finds them
   * through a partial index). Their number is `enabled − rollback:total` (counters are exact, and every member
   * counted in rollback:total is an enabled one), so a second call under the same lock gives 0.
   */
  async uncountedRollback(sql: Sql, waveId: string): Promise<number> {
    const [row] = await sql<{ n: string }>(
      `SELECT COALESCE(sum(value) FILTER (WHERE name = 'enabled'), 0)
            - COALESCE(sum(value) FILTER (WHERE name = 'rollback:total'), 0) AS n
         FROM wave_counters WHERE wave_id = $1 AND name IN ('enabled', 'rollback:total')`,
      [waveId],
    );
    return Number(row?.n ?? 0);
  }
}
