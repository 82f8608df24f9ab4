import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Support overrides of `password_reset_required` are explicit, expire and can be listed and revoked (issue 15):
 *  - `accounts.override_expires_at`: a live override has one in the future; overrides on file before this migration
 *    get 72 hours from when they were given (the default SUPPORT_OVERRIDE_TTL_S), so none becomes permanent;
 *  - `operations.overrides`: what a support enable overrode (`held`, `password_reset_required`, `not_found`), and
 *    `operations.override_expires_at` the expiry it recorded, so the answer and the operation say it;
 *  - a partial index for listing live overrides (few rows among a million accounts).
 */
export class OverrideExpiry1764385000000 implements MigrationInterface {
  name = 'OverrideExpiry1764385000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE accounts ADD COLUMN override_expires_at timestamptz`);
    await q.query(
      `UPDATE accounts SET override_expires_at = override_at + interval '72 hours'
        WHERE override_reason IS NOT NULL OR override_ticket IS NOT NULL`,
    );
    await q.query(
      `CREATE INDEX accounts_override_expires_idx ON accounts (override_expires_at, login)
        WHERE override_expires_at IS NOT NULL`,
    );
    await q.query(
      `ALTER TABLE operations ADD COLUMN overrides text[] NOT NULL DEFAULT '{}',
                              ADD COLUMN override_expires_at timestamptz`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE operations DROP COLUMN overrides, DROP COLUMN override_expires_at`);
    await q.query(`DROP INDEX accounts_override_expires_idx`);
    await q.query(`ALTER TABLE accounts DROP COLUMN override_expires_at`);
  }
}
