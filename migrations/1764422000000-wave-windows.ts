import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A wave's time windows (issue 20): weekly allowed ranges and blackouts in an IANA zone, as ops gave them (validated by
 * libs/domain's validateTimeWindows). Null: the wave may send at any time. A wave outside its windows is paused with
 * status_reason 'outside_window'.
 */
export class WaveWindows1764422000000 implements MigrationInterface {
  name = 'WaveWindows1764422000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE waves ADD COLUMN windows jsonb`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE waves DROP COLUMN windows`);
  }
}
