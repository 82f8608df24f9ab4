import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The mailstore's capabilities as a worker last read them, and when (issue 18): one row, written by every read (at
 * start, every CAPABILITIES_REFRESH_MS, after a 429). The preview reads it to size batches and pace as the engine
 * will: `batch_size_limit` is the driver's own min(maxBatchItems, accountUpdateBurst), computed where it is read.
 */
export class MailstoreCapabilities1764412000000 implements MigrationInterface {
  name = 'MailstoreCapabilities1764412000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE mailstore_capabilities (
      id smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
      capabilities jsonb NOT NULL,
      batch_size_limit int NOT NULL CHECK (batch_size_limit >= 1),
      account_updates_per_second double precision NOT NULL CHECK (account_updates_per_second > 0),
      read_at timestamptz NOT NULL
    )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE mailstore_capabilities`);
  }
}
