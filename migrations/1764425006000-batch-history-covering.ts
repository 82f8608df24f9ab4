import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A wave's rate history (`GET /waves/{id}/history`) sums `size` by `kind` over its completed batches: with only
 * (wave_id, completed_at) in the index, PostgreSQL read every batch row from the heap, each carrying its members'
 * priors (a million-account wave in batches of 20: 50,000 rows, ~430 MB, ~300 ms). With `kind` and `size` in the
 * index the read is an index-only scan of a few MB (~20 ms, docs/benchmarks.md). Same index, same entries, written
 * by the same settle: only a few bytes wider, so no write a batch did not already make.
 */
export class BatchHistoryCovering1764425006000 implements MigrationInterface {
  name = 'BatchHistoryCovering1764425006000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX wave_batches_completed_idx`);
    await q.query(
      `CREATE INDEX wave_batches_completed_idx ON wave_batches (wave_id, completed_at) INCLUDE (kind, size)
        WHERE completed_at IS NOT NULL`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX wave_batches_completed_idx`);
    await q.query(
      `CREATE INDEX wave_batches_completed_idx ON wave_batches (wave_id, completed_at) WHERE completed_at IS NOT NULL`,
    );
  }
}
