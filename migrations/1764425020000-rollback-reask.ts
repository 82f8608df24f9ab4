import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A rollback member refused by its `ifVersion` only because of our own later writes on other protocols is asked again
 * at the version answered (libs/domain rollback-reask.ts): `rollback_if_version` is that version (null: the forward
 * write's `result_version`), and `rollback_result_version` the version its restoration made, so a later rollback
 * of an overlapping wave can follow the chain of our writes through it. `rollback_requeues`: how many times a
 * conflict that no chain explained yet, while another writer of ours was unrecorded on the account, sent the member
 * back to wait (bounded; then the conflict stands). Nullable or a constant default: no table rewrite.
 */
export class RollbackReask1764425020000 implements MigrationInterface {
  name = 'RollbackReask1764425020000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `ALTER TABLE wave_members ADD COLUMN rollback_if_version integer, ADD COLUMN rollback_result_version integer,
         ADD COLUMN rollback_requeues smallint NOT NULL DEFAULT 0`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(
      `ALTER TABLE wave_members DROP COLUMN rollback_if_version, DROP COLUMN rollback_result_version,
         DROP COLUMN rollback_requeues`,
    );
  }
}
