import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Fencing for batches (issue 14). `lease_gen` is the batch's lease generation: it starts at 1 at the claim and goes
 * up by one at every takeover; every write a worker makes for a batch (attempt, lease renewal, release, settle)
 * names the generation it holds, so a worker that lost its lease (a slow pump, a process woken after SIGSTOP)
 * changes nothing and learns it lost it. `send_deadline` is the send permit of the batch's current attempt: the
 * worker starts its call before it or not at all, and a command that stops a wave (pause, halt, hold, import)
 * waits at most until the last permit granted before its commit has passed, instead of waiting on a worker.
 *
 * `eligibility_epoch` (one row) orders the permits with every change that can make an account ineligible (a hold,
 * an import that marks accounts leaked): such a change adds one to it in its transaction; a permit reads it with
 * the accounts it decides on, and commits only if it is unchanged, holding the row FOR SHARE SKIP LOCKED for its one
 * statement. One row locked per permit instead of one per account.
 */
export class BatchFencing1764340000000 implements MigrationInterface {
  name = 'BatchFencing1764340000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE wave_batches ADD COLUMN lease_gen integer NOT NULL DEFAULT 1`);
    await q.query(`ALTER TABLE wave_batches ADD COLUMN send_deadline timestamptz`);
    await q.query(`
      CREATE TABLE eligibility_epoch (
        id    smallint PRIMARY KEY CHECK (id = 1),
        epoch bigint   NOT NULL
      )`);
    await q.query(`INSERT INTO eligibility_epoch (id, epoch) VALUES (1, 0)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE eligibility_epoch`);
    await q.query(`ALTER TABLE wave_batches DROP COLUMN send_deadline`);
    await q.query(`ALTER TABLE wave_batches DROP COLUMN lease_gen`);
  }
}
