import { Writable } from 'node:stream';
import { PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { resetHoldSql } from '@app/domain';
import { Sql } from '../db/sql';

/** How many of the accounts an import left open while holding them back are named in its report. */
const OPEN_HELD_LISTED = 1000;

/** What a merge did: rows inserted and updated, and the updated ones it left recorded open while now held back. */
export interface MergeResult {
  inserted: number;
  updated: number;
  openHeld: number;
  openHeldLogins: string[];
}

/** A data line whose login an earlier line of the same file already has. */
export interface DuplicateLine {
  line: number;
  login: string;
  first_line: number;
}

/**
 * The statements of an account import, all in its one transaction: a temporary staging table filled by COPY (pg's
 * COPY FROM STDIN through pg-copy-streams, on the transaction's own client), then one set-based merge. SQL only: what
 * is valid, and what the report says, is AccountImportService's and libs/domain's.
 */
export class AccountImportRepository {
  /** The staging table, dropped at the commit; memory for the merge's sort of a million rows. */
  async createStaging(sql: Sql): Promise<void> {
    await sql(`SET LOCAL work_mem = '256MB'`);
    await sql(`
      CREATE TEMP TABLE import_staging (
        line integer NOT NULL, login text NOT NULL, cohorts text[] NOT NULL,
        leaked boolean NOT NULL, password_changed_at timestamptz
      ) ON COMMIT DROP`);
  }

  /** COPY into the staging table: write COPY text lines (copyLine) to the stream, then end it. */
  openCopy(client: PoolClient): Writable {
    return client.query(copyFrom('COPY import_staging (line, login, cohorts, leaked, password_changed_at) FROM STDIN'));
  }

  /** Every staged line but the first of its login, in line order. */
  async duplicates(sql: Sql): Promise<DuplicateLine[]> {
    return sql<DuplicateLine>(`
      SELECT s.line, s.login, d.first_line FROM import_staging s
      JOIN (SELECT login, min(line) AS first_line FROM import_staging GROUP BY login HAVING count(*) > 1) d
        ON d.login = s.login AND s.line <> d.first_line
      ORDER BY s.line`);
  }

  async dropLines(sql: Sql, lines: number[]): Promise<void> {
    await sql('DELETE FROM import_staging WHERE line = ANY($1::int[])', [lines]);
  }

  /**
   * Waits until no other import is merging, then holds that until the commit. Two merges at once lock the same
   * accounts in their own files' orders and deadlock (PostgreSQL aborts one: a 500 for a good file); one at a time,
   * the second merges over the first, whole. Taken after staging, so uploads still stream side by side.
   */
  async lockMerge(sql: Sql): Promise<void> {
    await sql(`SELECT pg_advisory_xact_lock(hashtext('reopen:account-import'))`);
  }

  /**
   * Upserts the staged rows by login; an account whose values are equal is not touched (no new version). Returns how
   * many were inserted and how many updated.
   */
  async merge(sql: Sql, incidentAt: Date): Promise<MergeResult> {
    // An updated account the service records open (IMAP or POP3) that its new values hold back: a leaked list or an
    // older export arriving after a wave or support opened it. Nothing closes it by itself; the report names it.
    const openHeld = `(a.imap_enabled OR a.pop3_enabled) AND ${resetHoldSql({ incidentAt: '$1', overrideAt: 'now()' })}`;
    const [merged] = await sql<{ inserted: string; updated: string; open_held: string; open_held_logins: string[] }>(
      `
      WITH up AS (
        INSERT INTO accounts AS a (login, cohorts, leaked, password_changed_at)
        SELECT login, cohorts, leaked, password_changed_at FROM import_staging
        ON CONFLICT (login) DO UPDATE
          SET cohorts = EXCLUDED.cohorts, leaked = EXCLUDED.leaked,
              password_changed_at = EXCLUDED.password_changed_at,
              version = a.version + 1, updated_at = now()
          WHERE (a.cohorts, a.leaked, a.password_changed_at)
                IS DISTINCT FROM (EXCLUDED.cohorts, EXCLUDED.leaked, EXCLUDED.password_changed_at)
        RETURNING (xmax = 0) AS inserted, a.login, ${openHeld} AS open_held
      )
      SELECT count(*) FILTER (WHERE inserted) AS inserted, count(*) FILTER (WHERE NOT inserted) AS updated,
             count(*) FILTER (WHERE open_held) AS open_held,
             COALESCE((SELECT array_agg(login ORDER BY login) FROM
                        (SELECT login FROM up WHERE open_held ORDER BY login LIMIT ${OPEN_HELD_LISTED}) l), '{}') AS open_held_logins
        FROM up`,
      [incidentAt.toISOString()],
    );
    return {
      inserted: Number(merged.inserted),
      updated: Number(merged.updated),
      openHeld: Number(merged.open_held),
      openHeldLogins: merged.open_held_logins,
    };
  }
}
