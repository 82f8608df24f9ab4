import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Whether a forward batch's earlier attempts may have applied anything (issue 15): true from its send permit until an
 * answer says nothing was applied (429, 503, a failure before the request left). A batch not in doubt is decided
 * again at its next permit, on the accounts as they are then (a hold since the 503 keeps the account out); one in
 * doubt must be resent as it was, under its key. Batches claimed before this migration with an attempt behind them
 * are in doubt.
 */
export class BatchInDoubt1764386000000 implements MigrationInterface {
  name = 'BatchInDoubt1764386000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE wave_batches ADD COLUMN in_doubt boolean NOT NULL DEFAULT false`);
    await q.query(`UPDATE wave_batches SET in_doubt = true WHERE state = 'claimed' AND attempts > 0`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE wave_batches DROP COLUMN in_doubt`);
  }
}
