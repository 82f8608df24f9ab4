import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * One row per running pump slot of a wave (issue 14): a pump holds its slot by a lease renewed while it runs, so
 * the number of pumps of a wave never exceeds its concurrency, whatever the queue does. After a Redis wipe the
 * reconciler re-adds every pump job while the old pumps still run; a second pump for a slot now waits for the
 * slot instead of running beside the first. Rows of a wave go with it.
 */
export class PumpSlots1764350000000 implements MigrationInterface {
  name = 'PumpSlots1764350000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE wave_pump_slots (
        wave_id     uuid        NOT NULL REFERENCES waves (id) ON DELETE CASCADE,
        kind        text        NOT NULL CHECK (kind IN ('forward', 'rollback')),
        slot        integer     NOT NULL,
        holder      text        NOT NULL,
        lease_until timestamptz NOT NULL,
        PRIMARY KEY (wave_id, kind, slot)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE wave_pump_slots`);
  }
}
