import { MigrationInterface, QueryRunner } from 'typeorm';

/** The latest gate evaluation of each wave (values, statuses), for progress and dashboards. */
export class GateState1764290000000 implements MigrationInterface {
  name = 'GateState1764290000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE waves ADD COLUMN gate_state jsonb, ADD COLUMN gate_evaluated_at timestamptz`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE waves DROP COLUMN gate_state, DROP COLUMN gate_evaluated_at`);
  }
}
