import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The measurements of Prometheus gates (issue 19), kept: each evaluation's value is shown in progress and on the status
 * page, and the analysis (analysis.ts: failed, inconclusive and erring measurements against their limits) is counted
 * over the measurements of the wave's current run (`generation`: bumped at every start and resume, as an Argo
 * AnalysisRun starts again). `slot` is the interval the measurement belongs to: two workers evaluating at once write
 * one row (ON CONFLICT DO NOTHING), so nothing is counted twice.
 */
export class GateMeasurements1764401000000 implements MigrationInterface {
  name = 'GateMeasurements1764401000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE gate_measurements (
        id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        wave_id    uuid             NOT NULL REFERENCES waves (id),
        generation integer          NOT NULL,
        gate       text             NOT NULL,
        slot       bigint           NOT NULL,
        taken_at   timestamptz      NOT NULL DEFAULT now(),
        phase      text             NOT NULL,
        value      double precision,
        reason     text             NOT NULL,
        CONSTRAINT gate_measurements_phase_check CHECK (phase IN ('successful', 'failed', 'inconclusive', 'error')),
        CONSTRAINT gate_measurements_slot_key UNIQUE (wave_id, gate, slot)
      )`);
    await q.query(`CREATE INDEX gate_measurements_run_idx ON gate_measurements (wave_id, generation, gate, taken_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE gate_measurements`);
  }
}
