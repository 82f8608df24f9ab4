import { MigrationInterface, QueryRunner } from 'typeorm';

/** A single-account rollback operation names the wave member it restores and the version it expects. */
export class OperationRollback1764310000000 implements MigrationInterface {
  name = 'OperationRollback1764310000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE operations ADD COLUMN wave_id uuid REFERENCES waves(id), ADD COLUMN wave_seq integer,
                   ADD COLUMN if_version integer`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE operations DROP COLUMN wave_id, DROP COLUMN wave_seq, DROP COLUMN if_version`);
  }
}
