import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Read-back verification when the mailstore's propagation is eventual: the plan (due time, sample) and the
 * result, kept on the wave. A wave completes only after it.
 */
export class WaveVerification1764300000000 implements MigrationInterface {
  name = 'WaveVerification1764300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE waves ADD COLUMN verification jsonb, ADD COLUMN verify_due_at timestamptz`);
    await q.query(
      `CREATE INDEX waves_verify_due_idx ON waves (verify_due_at) WHERE state = 'running' AND verify_due_at IS NOT NULL`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX IF EXISTS waves_verify_due_idx`);
    await q.query(`ALTER TABLE waves DROP COLUMN verification, DROP COLUMN verify_due_at`);
  }
}
