import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A rollback member sent back to wait for another writer of ours (its conflict undecided while that writer has not
 * recorded its write) is claimable again only from `rollback_not_before` (libs/domain requeueDelayMs: spaced, so the
 * other writer has the time to record). Null for every other member. Nullable: no table rewrite.
 */
export class RollbackNotBefore1764425021000 implements MigrationInterface {
  name = 'RollbackNotBefore1764425021000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE wave_members ADD COLUMN rollback_not_before timestamptz`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE wave_members DROP COLUMN rollback_not_before`);
  }
}
