import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The newest audit entries that are not per-member ledger rows (commands, gate halts, support actions, imports),
 * for the status page's audit pane (`GET /audit?kind=commands`): without it, finding the last ten means walking
 * back over every member row a wave wrote since (a million for a full wave).
 */
export class AuditCommandsIndex1764360000000 implements MigrationInterface {
  name = 'AuditCommandsIndex1764360000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX audit_log_commands_idx ON audit_log (id) WHERE action NOT LIKE 'member.%'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX IF EXISTS audit_log_commands_idx`);
  }
}
