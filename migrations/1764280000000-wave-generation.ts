import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A wave's run generation, bumped on every (re)start of dispatch: pumps carry it in their job, and a pump of an
 * older generation exits, so a pause/resume never leaves two sets of pumps on one wave.
 */
export class WaveGeneration1764280000000 implements MigrationInterface {
  name = 'WaveGeneration1764280000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE waves ADD COLUMN generation integer NOT NULL DEFAULT 0`);
    await q.query(`CREATE INDEX waves_active_idx ON waves (state) WHERE state IN ('running', 'rolling_back')`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX IF EXISTS waves_active_idx`);
    await q.query(`ALTER TABLE waves DROP COLUMN generation`);
  }
}
