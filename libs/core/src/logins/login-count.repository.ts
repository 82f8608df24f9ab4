import { Sql } from '../db/sql';

/** What one flush adds: logins of one account name in one bucket. */
export interface LoginCountRow {
  login: string;
  bucket: Date;
  failed: number;
  succeeded: number;
}

export interface LoginTotals {
  failed: number;
  succeeded: number;
}

/** A scope of the counts: the accounts one wave opened (or every account, `waveId` null), one cohort (or all). */
export interface LoginScope {
  waveId: string | null;
  /** null: every cohort. */
  cohort: string | null;
}

/** '*' in login_counts.cohort: every cohort. */
const ANY_COHORT = '*';

/**
 * The SQL of login counts (migrations/1764400000000-login-counts.ts), and nothing else: the rules that read them are
 * libs/domain/src/login-events.ts's.
 */
export class LoginCountRepository {
  /**
   * Adds one flush, in one statement: each login is looked up once (accounts_login_key), counted for the population
   * and for every wave that enabled it, in each of its cohorts and in '*'; rows are written in key order (two API
   * processes flushing at once lock them in the same order). Logins the service does not know are counted for
   * nothing. Returns how many rows of the flush matched an account.
   */
  async add(sql: Sql, rows: readonly LoginCountRow[], lastEventAt: Date, received: number): Promise<number> {
    const [result] = await sql<{ matched: number }>(
      `WITH e AS (
         SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::int[], $4::int[]) AS e(login, bucket, failed, succeeded)),
       acc AS (
         SELECT a.id, a.cohorts, e.bucket, e.failed, e.succeeded FROM e JOIN accounts a ON a.login = e.login),
       scoped AS (
         SELECT NULL::uuid AS wave_id, c.cohort, acc.bucket, acc.failed, acc.succeeded
           FROM acc CROSS JOIN LATERAL unnest(acc.cohorts || '${ANY_COHORT}'::text) AS c(cohort)
         UNION ALL
         SELECT m.wave_id, c.cohort, acc.bucket, acc.failed, acc.succeeded
           FROM acc JOIN wave_members m ON m.account_id = acc.id AND m.state = 'enabled'
           CROSS JOIN LATERAL unnest(acc.cohorts || '${ANY_COHORT}'::text) AS c(cohort)),
       counted AS (
         INSERT INTO login_counts AS t (wave_id, cohort, bucket, failed, succeeded)
         SELECT wave_id, cohort, bucket, sum(failed), sum(succeeded) FROM scoped
          GROUP BY wave_id, cohort, bucket ORDER BY wave_id NULLS FIRST, cohort, bucket
         ON CONFLICT (wave_id, cohort, bucket)
           DO UPDATE SET failed = t.failed + excluded.failed, succeeded = t.succeeded + excluded.succeeded
         RETURNING 1),
       -- Only an event naming a known account is a sign of life for the gates: a stream of logins the service cannot
       -- map (the wrong login field, a realm, another population) leaves every gate without data, not "go".
       stream AS (
         UPDATE login_stream
            SET last_event_at = CASE WHEN EXISTS (SELECT 1 FROM acc) THEN greatest(last_event_at, $5) ELSE last_event_at END,
                received = received + $6
          WHERE id = 1 AND (SELECT count(*) FROM counted) >= 0
         RETURNING 1)
       SELECT (SELECT count(*) FROM acc)::int AS matched, (SELECT count(*) FROM stream)::int AS stream`,
      [
        rows.map((r) => r.login),
        rows.map((r) => r.bucket),
        rows.map((r) => r.failed),
        rows.map((r) => r.succeeded),
        lastEventAt,
        received,
      ],
    );
    return result?.matched ?? 0;
  }

  /** Failed and successful logins of a scope in the buckets at or after `since`. */
  async totals(sql: Sql, scope: LoginScope, since: Date): Promise<LoginTotals> {
    const [row] = await sql<{ failed: string | null; succeeded: string | null }>(
      `SELECT sum(failed) AS failed, sum(succeeded) AS succeeded FROM login_counts
        WHERE wave_id ${scope.waveId === null ? 'IS NULL' : '= $3'} AND cohort = $1 AND bucket >= $2`,
      scope.waveId === null ? [scope.cohort ?? ANY_COHORT, since] : [scope.cohort ?? ANY_COHORT, since, scope.waveId],
    );
    return { failed: Number(row?.failed ?? 0), succeeded: Number(row?.succeeded ?? 0) };
  }

  /** When the last login event naming a known account arrived (any process), and how many events have arrived. */
  async stream(sql: Sql): Promise<{ lastEventAt: Date | null; received: number }> {
    const [row] = await sql<{ last_event_at: Date | null; received: string }>(
      `SELECT last_event_at, received FROM login_stream WHERE id = 1`,
    );
    return { lastEventAt: row?.last_event_at ?? null, received: Number(row?.received ?? 0) };
  }
}
