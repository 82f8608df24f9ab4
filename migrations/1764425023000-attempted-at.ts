import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * When a batch's current attempt, or an operation's run, was permitted (PostgreSQL's clock, before its call left): an
 * answer to a call permitted after an account's state was last recorded is newer than that record, whatever its
 * version (a passdb row or an LDAP entry re-created by an operator starts its version again). Nullable, no default:
 * no table rewrite.
 */
export class AttemptedAt1764425023000 implements MigrationInterface {
  name = 'AttemptedAt1764425023000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE wave_batches ADD COLUMN attempted_at timestamptz`);
    await q.query(`ALTER TABLE operations ADD COLUMN attempted_at timestamptz`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE operations DROP COLUMN attempted_at`);
    await q.query(`ALTER TABLE wave_batches DROP COLUMN attempted_at`);
  }
}
