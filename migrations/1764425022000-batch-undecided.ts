import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A forward batch resent in doubt that waits for another writer of ours to record its write is marked `undecided`,
 * so that an older batch waiting for it in turn does not (BatchSettleRepository.othersWrites): two such batches no
 * longer wait for each other until both waves pause. A constant default: no table rewrite.
 */
export class BatchUndecided1764425022000 implements MigrationInterface {
  name = 'BatchUndecided1764425022000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE wave_batches ADD COLUMN undecided boolean NOT NULL DEFAULT false`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE wave_batches DROP COLUMN undecided`);
  }
}
