import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Login events from the mail server (issue 19), kept as counts, never a row per event: per wave that opened the
 * account (NULL: every account, the population the control cohorts are read from), per cohort ('*': every cohort),
 * per 10-second bucket, how many logins failed and succeeded. Each API process adds what it received since its last
 * flush, in one statement (ON CONFLICT adds to the row: several processes sum correctly).
 *
 * login_stream: when the last event arrived, and how many, so a gate can tell a quiet stream from a dead one.
 */
export class LoginCounts1764400000000 implements MigrationInterface {
  name = 'LoginCounts1764400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE login_counts (
        wave_id   uuid,
        cohort    text        NOT NULL,
        bucket    timestamptz NOT NULL,
        failed    integer     NOT NULL DEFAULT 0,
        succeeded integer     NOT NULL DEFAULT 0,
        CONSTRAINT login_counts_key UNIQUE NULLS NOT DISTINCT (wave_id, cohort, bucket)
      )`);
    await q.query(`
      CREATE TABLE login_stream (
        id            smallint    PRIMARY KEY CHECK (id = 1),
        last_event_at timestamptz,
        received      bigint      NOT NULL DEFAULT 0
      )`);
    await q.query(`INSERT INTO login_stream (id) VALUES (1)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE login_stream`);
    await q.query(`DROP TABLE login_counts`);
  }
}
