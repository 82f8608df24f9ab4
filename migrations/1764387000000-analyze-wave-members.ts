import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Only a table's owner may ANALYZE it, and the API and the worker no longer connect as the owner (docs/security.md,
 * "Database roles"): their `ANALYZE wave_members` after a wave freezes its membership would be skipped with a warning,
 * and every claim would then sort all pending members (bench:rollback: 7.2 s instead of 0.12 s per claim). This
 * function runs that one statement with its owner's rights; it takes no argument and pins its search_path, so it can
 * do nothing else. EXECUTE is granted to the runtime role only (libs/db/src/runtime-grants.ts).
 */
export class AnalyzeWaveMembers1764387000000 implements MigrationInterface {
  name = 'AnalyzeWaveMembers1764387000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE FUNCTION analyze_wave_members() RETURNS void
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
        AS $$ BEGIN ANALYZE public.wave_members; END $$`);
    await q.query(`REVOKE ALL ON FUNCTION analyze_wave_members() FROM PUBLIC`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION IF EXISTS analyze_wave_members()`);
  }
}
