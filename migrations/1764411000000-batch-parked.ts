import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A batch kept with its key when its wave stopped after an attempt (a 429 just before a pause, the pause on an
 * unreachable mailstore): since when it waits for its retry (issue 18). Its lease is given up at once, so the first
 * pump after a resume retries it without waiting for the lease to expire, and progress counts its members as
 * waiting for a retry, not in flight. Cleared by the takeover that retries it.
 */
export class BatchParked1764411000000 implements MigrationInterface {
  name = 'BatchParked1764411000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE wave_batches ADD COLUMN parked_at timestamptz`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE wave_batches DROP COLUMN parked_at`);
  }
}
