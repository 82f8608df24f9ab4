import { Protocol, RollbackOutcome } from '@app/domain';
import { Sql } from '../db/sql';
import { ROLLBACK_IF_VERSION } from '../engine/rollback-batch.repository';

/** The wave member a support rollback restores, with what its wave opened. */
export interface RestorableMember {
  wave_id: string;
  seq: number;
  prior_imap: boolean;
  prior_pop3: boolean;
  /** The If-Match of its restoration (ROLLBACK_IF_VERSION: our forward write's version, or a conflict's re-ask). */
  result_version: number | null;
  protocols: Protocol[];
  /** Its wave's rollback has begun: the member is already counted as pending there. */
  wave_rolling_back: boolean;
}

/**
 * The statements of support's rollback of one account on its wave member, in the operation's transaction (the
 * request) or the runner's (the settle). SQL only: the rules are OperationService's and member-outcome.ts's.
 */
export class MemberRollbackRepository {
  /**
   * The latest wave change of the account left to roll back (of `waveId` when given), its member row locked.
   * FOR SHARE OF w: a wave rollback command holds the wave row while it counts the members it will restore; this
   * waits for it and then reads the row as it left it.
   */
  async lockRestorable(sql: Sql, accountId: number, waveId: string | null): Promise<RestorableMember | undefined> {
    const [member] = await sql<RestorableMember>(
      `SELECT m.wave_id, m.seq, m.prior_imap, m.prior_pop3, ${ROLLBACK_IF_VERSION('m')} AS result_version, w.protocols,
              w.rollback_started_at IS NOT NULL AS wave_rolling_back
         FROM wave_members m JOIN waves w ON w.id = m.wave_id
        WHERE m.account_id = $1 AND m.state = 'enabled' AND m.rollback_state IS NULL
          AND ($2::uuid IS NULL OR m.wave_id = $2::uuid)
        ORDER BY m.done_at DESC LIMIT 1
        FOR UPDATE OF m FOR SHARE OF w`,
      [accountId, waveId],
    );
    return member;
  }

  /** Taken by support: a wave rollback cannot restore it twice. */
  async markInFlight(sql: Sql, waveId: string, seq: number): Promise<void> {
    await sql(`UPDATE wave_members SET rollback_state = 'in_flight' WHERE wave_id = $1 AND seq = $2`, [waveId, seq]);
  }

  async settle(sql: Sql, waveId: string, seq: number, outcome: RollbackOutcome): Promise<void> {
    await sql(
      `UPDATE wave_members SET rollback_state = $3, rollback_reason = $4, rolled_back_at = now() WHERE wave_id = $1 AND seq = $2`,
      [waveId, seq, outcome.state, outcome.state === 'failed' ? outcome.reason : null],
    );
  }
}
