import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The per-account reaction to credential stuffing (issue 19): a wave may carry `reclose` ({failures, distinctIps,
 * windowSeconds}); an account it opened that then sees that many failed logins from that many addresses within the
 * window is closed again through the support lane.
 *
 * - login_failures: failed logins per (account, address, 10 s bucket), written only for accounts opened by a wave
 *   with a `reclose` policy (one statement per flush of the login events; old buckets are deleted by the same
 *   statement's owner, the API, past the longest window);
 * - login_reclosures: one row per (wave, account) closed again, so it happens once, with the operation that did it.
 */
export class LoginReclose1764402000000 implements MigrationInterface {
  name = 'LoginReclose1764402000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE waves ADD COLUMN reclose jsonb`);
    await q.query(`
      CREATE TABLE login_failures (
        account_id bigint      NOT NULL,
        ip         text        NOT NULL,
        bucket     timestamptz NOT NULL,
        failures   integer     NOT NULL,
        PRIMARY KEY (account_id, bucket, ip)
      )`);
    await q.query(`CREATE INDEX login_failures_bucket_idx ON login_failures (bucket)`);
    await q.query(`
      CREATE TABLE login_reclosures (
        wave_id      uuid        NOT NULL REFERENCES waves (id),
        account_id   bigint      NOT NULL,
        failures     integer     NOT NULL,
        distinct_ips integer     NOT NULL,
        decided_at   timestamptz NOT NULL DEFAULT now(),
        operation_id uuid,
        PRIMARY KEY (wave_id, account_id)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE login_reclosures`);
    await q.query(`DROP TABLE login_failures`);
    await q.query(`ALTER TABLE waves DROP COLUMN reclose`);
  }
}
