import type { ReclosePolicy } from '@app/domain';
import { Sql } from '../db/sql';

/** Failed logins of one account from one address in one bucket, as one flush saw them. */
export interface FailureRow {
  login: string;
  ip: string;
  bucket: Date;
  failures: number;
}

/** An account a wave with a `reclose` policy opened, and what it saw over the policy's window. */
export interface RecloseCandidate {
  waveId: string;
  accountId: number;
  login: string;
  policy: ReclosePolicy;
  failures: number;
  distinctIps: number;
}

/** The SQL of the per-account reaction (migrations/1764402000000-login-reclose.ts), and nothing else. */
export class LoginRecloseRepository {
  /**
   * Adds a flush's failed logins for the accounts that a wave with a `reclose` policy opened (the others are not
   * kept), and returns the ids of those accounts. One statement.
   */
  async addFailures(sql: Sql, rows: readonly FailureRow[]): Promise<number[]> {
    const touched = await sql<{ account_id: string }>(
      `WITH f AS (SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::int[]) AS f(login, ip, bucket, n)),
       watched AS (
         SELECT a.id, f.ip, f.bucket, f.n FROM f JOIN accounts a ON a.login = f.login
          WHERE EXISTS (SELECT 1 FROM wave_members m JOIN waves w ON w.id = m.wave_id
                         WHERE m.account_id = a.id AND m.state = 'enabled' AND w.reclose IS NOT NULL))
       INSERT INTO login_failures AS t (account_id, ip, bucket, failures)
       SELECT id, ip, bucket, sum(n) FROM watched GROUP BY id, ip, bucket ORDER BY id, bucket, ip
       ON CONFLICT (account_id, bucket, ip) DO UPDATE SET failures = t.failures + excluded.failures
       RETURNING account_id`,
      [rows.map((r) => r.login), rows.map((r) => r.ip), rows.map((r) => r.bucket), rows.map((r) => r.failures)],
    );
    return [...new Set(touched.map((r) => Number(r.account_id)))];
  }

  /**
   * For each of these accounts and each wave with a policy that opened it and has not closed it again yet: its failed
   * logins and distinct addresses over the policy's window (whole buckets up to `bucket`, the current one).
   */
  async candidates(sql: Sql, accountIds: readonly number[], bucket: Date): Promise<RecloseCandidate[]> {
    const rows = await sql<{
      wave_id: string;
      account_id: string;
      login: string;
      reclose: ReclosePolicy;
      failures: number;
      distinct_ips: number;
    }>(
      `SELECT m.wave_id, a.id AS account_id, a.login, w.reclose,
              sum(lf.failures)::int AS failures, count(DISTINCT lf.ip)::int AS distinct_ips
         FROM accounts a
         JOIN wave_members m ON m.account_id = a.id AND m.state = 'enabled'
         JOIN waves w ON w.id = m.wave_id AND w.reclose IS NOT NULL
         JOIN login_failures lf ON lf.account_id = a.id
          AND lf.bucket > $2::timestamptz - make_interval(secs => (w.reclose->>'windowSeconds')::int)
        WHERE a.id = ANY($1::bigint[])
          AND NOT EXISTS (SELECT 1 FROM login_reclosures r WHERE r.wave_id = m.wave_id AND r.account_id = a.id)
        GROUP BY m.wave_id, a.id, a.login, w.reclose`,
      [accountIds, bucket],
    );
    return rows.map((r) => ({
      waveId: r.wave_id,
      accountId: Number(r.account_id),
      login: r.login,
      policy: r.reclose,
      failures: r.failures,
      distinctIps: r.distinct_ips,
    }));
  }

  /** Records the decisions; returns those that were not recorded before (another process may have been first). */
  async decide(sql: Sql, decided: readonly RecloseCandidate[]): Promise<RecloseCandidate[]> {
    const rows = await sql<{ wave_id: string; account_id: string }>(
      `INSERT INTO login_reclosures (wave_id, account_id, failures, distinct_ips)
       SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::int[], $4::int[])
       ON CONFLICT (wave_id, account_id) DO NOTHING RETURNING wave_id, account_id`,
      [
        decided.map((d) => d.waveId),
        decided.map((d) => d.accountId),
        decided.map((d) => d.failures),
        decided.map((d) => d.distinctIps),
      ],
    );
    const fresh = new Set(rows.map((r) => `${r.wave_id}/${r.account_id}`));
    return decided.filter((d) => fresh.has(`${d.waveId}/${d.accountId}`));
  }

  async linkOperation(sql: Sql, waveId: string, accountId: number, operationId: string): Promise<void> {
    await sql(`UPDATE login_reclosures SET operation_id = $3 WHERE wave_id = $1 AND account_id = $2`, [
      waveId,
      accountId,
      operationId,
    ]);
  }

  /** A decision whose operation could not be requested: the next failed login decides again. */
  async undecide(sql: Sql, waveId: string, accountId: number): Promise<void> {
    await sql(`DELETE FROM login_reclosures WHERE wave_id = $1 AND account_id = $2 AND operation_id IS NULL`, [
      waveId,
      accountId,
    ]);
  }

  /** Drops failed-login buckets older than `before` (the longest window is a day). */
  async forget(sql: Sql, before: Date): Promise<void> {
    await sql(`DELETE FROM login_failures WHERE bucket < $1`, [before]);
  }
}
