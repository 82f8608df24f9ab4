import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `schedule_lateness_ms` was an integer: a schedule fired more than 2^31 ms (24.8 days) after its start time (a plan
 * scheduled with a start already long past, a typo in the year) failed the reconciler's UPDATE with "out of range for
 * type integer" on every round, so the wave stayed `scheduled` for good and the round stopped before it ended bakes,
 * opened windows or re-added pumps for every other wave. A bigint holds any lateness. The waves table is small.
 */
export class ScheduleLatenessBigint1764425030000 implements MigrationInterface {
  name = 'ScheduleLatenessBigint1764425030000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE waves ALTER COLUMN schedule_lateness_ms TYPE bigint`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(
      `ALTER TABLE waves ALTER COLUMN schedule_lateness_ms TYPE integer USING LEAST(schedule_lateness_ms, 2147483647)::integer`,
    );
  }
}
