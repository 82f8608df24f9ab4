import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A support request may carry an `Idempotency-Key` (the client's): the same request sent again by the same caller
 * (a double click, a retry after a lost answer) returns the operation it made instead of making a second one, and the
 * key sent with another request is refused. `client_request_hash` tells the two apart. One index entry per keyed
 * operation (most have none).
 */
export class OperationClientKey1764425050000 implements MigrationInterface {
  name = 'OperationClientKey1764425050000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE operations ADD COLUMN client_key text, ADD COLUMN client_request_hash text`);
    await q.query(
      `CREATE UNIQUE INDEX operations_client_key_idx ON operations (actor, client_key) WHERE client_key IS NOT NULL`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX operations_client_key_idx`);
    await q.query(`ALTER TABLE operations DROP COLUMN client_key, DROP COLUMN client_request_hash`);
  }
}
