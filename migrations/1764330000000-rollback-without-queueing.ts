import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A rollback no longer marks every member it will restore (`rollback_state = 'pending'`, one non-HOT update per
 * member: 8.8 s of a 1M-member rollback's 10 s command, measured by bench:rollback). A member waits for restoration
 * when its wave's rollback has begun, it is enabled and its rollback_state is still null; the claim finds those
 * through this partial index, and the counters carry how many there are. Members already marked pending by the
 * old code (a rollback running across the upgrade) are turned back into that form: their counters are unchanged.
 * Stop every worker before applying it: a worker of the previous version would look for 'pending' members and
 * find none.
 */
export class RollbackWithoutQueueing1764330000000 implements MigrationInterface {
  name = 'RollbackWithoutQueueing1764330000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`UPDATE wave_members SET rollback_state = NULL WHERE rollback_state = 'pending'`);
    await q.query(`DROP INDEX IF EXISTS wave_members_rollback_idx`);
    await q.query(
      `CREATE INDEX wave_members_rollback_idx ON wave_members (wave_id, seq)
        WHERE state = 'enabled' AND rollback_state IS NULL`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX IF EXISTS wave_members_rollback_idx`);
    await q.query(
      `UPDATE wave_members m SET rollback_state = 'pending' FROM waves w
        WHERE w.id = m.wave_id AND w.rollback_started_at IS NOT NULL AND m.state = 'enabled' AND m.rollback_state IS NULL`,
    );
    await q.query(
      `CREATE INDEX wave_members_rollback_idx ON wave_members (wave_id, seq) WHERE rollback_state = 'pending'`,
    );
  }
}
