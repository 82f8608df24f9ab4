import { DataSource } from 'typeorm';
import { Sql } from '../db/sql';

/** A live override as stored on its account. */
export interface OverrideRow {
  login: string;
  override_reason: string;
  override_ticket: string;
  override_by: string | null;
  override_at: Date | null;
  override_expires_at: Date;
}

/** A row of the listing, with its keyset: the expiry to the microsecond (a Date keeps milliseconds). */
export interface ListedOverrideRow extends OverrideRow {
  expires_key: string;
}

/**
 * The statements on support overrides of `password_reset_required` (columns of accounts). SQL only: when an override
 * is given, ended or listed is OperationService's and OverrideService's. A live override is the same predicate as the
 * domain's hasActiveOverride (reason and ticket are always written with the expiry).
 */
export class OverrideRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Live overrides after the keyset `after` ([expiry key, login]), soonest to expire first (on the pool). */
  async listLive(after: readonly [string, string] | undefined, limit: number): Promise<ListedOverrideRow[]> {
    return this.dataSource.query<ListedOverrideRow[]>(
      `SELECT login, override_reason, override_ticket, override_by, override_at, override_expires_at,
              to_char(override_expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS expires_key
         FROM accounts
        WHERE override_expires_at > now()
          AND ($1::timestamptz IS NULL OR (override_expires_at, login) > ($1::timestamptz, $2::text))
        ORDER BY override_expires_at, login LIMIT $3`,
      [after?.[0] ?? null, after?.[1] ?? null, limit],
    );
  }

  /** The account's live override, its row locked until the transaction ends; undefined when it has none. */
  async lockLive(sql: Sql, login: string): Promise<(OverrideRow & { accountId: number }) | undefined> {
    const [row] = await sql<OverrideRow & { id: string }>(
      `SELECT id, login, override_reason, override_ticket, override_by, override_at, override_expires_at
         FROM accounts WHERE login = $1 AND override_expires_at > now() FOR UPDATE`,
      [login],
    );
    return row && { ...row, accountId: Number(row.id) };
  }

  /** Records (or renews) an override expiring `ttlMs` from now; returns the expiry. */
  async record(
    sql: Sql,
    accountId: number,
    input: { reason: string; ticket: string; actor: string; ttlMs: number },
  ): Promise<Date> {
    const rows = await sql<{ override_expires_at: Date }>(
      `UPDATE accounts SET override_reason = $2, override_ticket = $3, override_by = $4, override_at = now(),
              override_expires_at = now() + $5 * interval '1 millisecond', version = version + 1, updated_at = now()
        WHERE id = $1 RETURNING override_expires_at`,
      [accountId, input.reason, input.ticket, input.actor, input.ttlMs],
    );
    return rows[0].override_expires_at;
  }

  /** Clears the account's override, live or expired. */
  async end(sql: Sql, accountId: number): Promise<void> {
    await sql(
      `UPDATE accounts SET override_reason = NULL, override_ticket = NULL, override_by = NULL, override_at = NULL,
              override_expires_at = NULL, version = version + 1, updated_at = now() WHERE id = $1`,
      [accountId],
    );
  }
}
