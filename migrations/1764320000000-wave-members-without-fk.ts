import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * wave_members is written in bulk on the hot path (1M rows at a wave's start, every claim and settle), and each
 * row paid two foreign-key checks each time (bench:wave: 2.7 s of 5.2 s to freeze 200,000 members). Its rows are
 * only ever created by the service from `waves` and `accounts` in the same statement, waves are never deleted and
 * accounts are never deleted, so the checks protect nothing the code does not already guarantee.
 */
export class WaveMembersWithoutFk1764320000000 implements MigrationInterface {
  name = 'WaveMembersWithoutFk1764320000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE wave_members DROP CONSTRAINT IF EXISTS wave_members_wave_id_fkey`);
    await q.query(`ALTER TABLE wave_members DROP CONSTRAINT IF EXISTS wave_members_account_id_fkey`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(
      `ALTER TABLE wave_members ADD CONSTRAINT wave_members_wave_id_fkey FOREIGN KEY (wave_id) REFERENCES waves(id)`,
    );
    await q.query(
      `ALTER TABLE wave_members ADD CONSTRAINT wave_members_account_id_fkey FOREIGN KEY (account_id) REFERENCES accounts(id)`,
    );
  }
}
