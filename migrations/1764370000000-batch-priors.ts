import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The prior state of each member of a forward batch, recorded on the batch row by its first send permit
 * (`[[seq, imap, pop3, version], …]`): a retry or a takeover rebuilds the identical request from it. Recording it
 * on every member row instead was a second non-HOT update of 500 member rows per batch (bench:wave: the permit at
 * 0.66 PostgreSQL cores); the settle writes each member's prior state anyway.
 */
export class BatchPriors1764370000000 implements MigrationInterface {
  name = 'BatchPriors1764370000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE wave_batches ADD COLUMN priors jsonb`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE wave_batches DROP COLUMN priors`);
  }
}
