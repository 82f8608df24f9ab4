import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A Prometheus gate's measurement is one per interval of each run (`generation`), not one per interval of the wave:
 * with the slot unique per wave, a run resumed within the interval its previous run measured found the slot taken
 * and went on without a measurement (insufficient data, no action) until the next interval, up to `intervalSeconds`
 * (a gate that had just failed included). Two workers of one run still write one row.
 */
export class GateMeasurementRunSlot1764425040500 implements MigrationInterface {
  name = 'GateMeasurementRunSlot1764425040500';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE gate_measurements DROP CONSTRAINT gate_measurements_slot_key`);
    await q.query(
      `ALTER TABLE gate_measurements ADD CONSTRAINT gate_measurements_slot_key UNIQUE (wave_id, generation, gate, slot)`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    // The older key holds one row per (wave, gate, slot): a later run's row of a slot goes.
    await q.query(
      `DELETE FROM gate_measurements m USING gate_measurements e
        WHERE e.wave_id = m.wave_id AND e.gate = m.gate AND e.slot = m.slot AND e.id < m.id`,
    );
    await q.query(`ALTER TABLE gate_measurements DROP CONSTRAINT gate_measurements_slot_key`);
    await q.query(
      `ALTER TABLE gate_measurements ADD CONSTRAINT gate_measurements_slot_key UNIQUE (wave_id, gate, slot)`,
    );
  }
}
