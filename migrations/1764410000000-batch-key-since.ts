import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * How many of a batch's attempts were made under earlier keys (issue 18): a forward batch decided again after
 * attempts that applied nothing gets a new key, and its request ids count attempts under that key from #1 again.
 * Batches claimed before this migration keep counting from their first attempt (0).
 */
export class BatchKeySince1764410000000 implements MigrationInterface {
  name = 'BatchKeySince1764410000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE wave_batches ADD COLUMN key_since int NOT NULL DEFAULT 0`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE wave_batches DROP COLUMN key_since`);
  }
}
