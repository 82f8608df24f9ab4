import { DataSource, EntityManager } from 'typeorm';
import { AccountEntity } from '@app/db';
import { Sql } from '../db/sql';

/** One of an account's wave memberships, as support sees it. */
export interface AccountWaveRow {
  waveId: string;
  name: string;
  waveState: string;
  memberState: string;
  reason: string | null;
  /** The member's rollback state; `pending` once its wave's rollback has begun and it waits for restoration. */
  rollbackState: string | null;
  doneAt: Date | null;
}

/** What a support hold writes: who held the account and why, or null to let it back. */
export interface HoldRecord {
  reason: string;
  ticket: string;
  by: string;
}

/**
 * The statements on one account (the accounts table and its memberships), for the support lane and the support view.
 * SQL only: who may change what is decided in libs/domain and the services. Statements in a transaction take its
 * executor (`m`, TypeORM's manager for entities, or `sql`); the support view's reads run on the pool.
 */
export class AccountRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** The account by its stored (lower-case) login; `forUpdate` locks its row until the transaction ends. */
  async findByLogin(m: EntityManager, login: string, forUpdate = false): Promise<AccountEntity | null> {
    return m.findOne(AccountEntity, {
      where: { login },
      ...(forUpdate ? { lock: { mode: 'pessimistic_write' as const } } : {}),
    });
  }

  async findById(m: EntityManager, id: number): Promise<AccountEntity | null> {
    return m.findOne(AccountEntity, { where: { id } });
  }

  /** Holds the account out of every wave (`hold`), or lets it back (null); moves its version on. */
  async setHold(sql: Sql, accountId: number, hold: HoldRecord | null): Promise<void> {
    await sql(
      `UPDATE accounts SET held = $2, hold_reason = $3, hold_ticket = $4, held_by = $5, held_at = CASE WHEN $2 THEN now() END,
              version = version + 1, updated_at = now() WHERE id = $1`,
      [accountId, hold !== null, hold?.reason ?? null, hold?.ticket ?? null, hold?.by ?? null],
    );
  }

  /**
   * The access operation `operationId`'s call was answered with, never back in time where versions name writes
   * (`versionsNameWrites`): a wave's answer with a later version may have been written first; unless the operation's
   * run was permitted (`operations.attempted_at`) after the account's state was last recorded: its answer is newer
   * then, whatever its version (a row or entry an operator re-created starts its version again), unless the answer
   * is an earlier run's replayed under the key (`replayed`: permitted before). Where versions do not name writes (a
   * passdb's fingerprint of the switches, lower after a close), a version says nothing of order: the answer is
   * recorded. A protocol the answer leaves out keeps its value.
   */
  async recordObservedAccess(
    sql: Sql,
    accountId: number,
    operationId: string,
    access: { imap?: boolean; pop3?: boolean; version: number },
    answer: { versionsNameWrites: boolean; replayed: boolean },
  ): Promise<void> {
    await sql(
      `UPDATE accounts SET imap_enabled = COALESCE($2, imap_enabled), pop3_enabled = COALESCE($3, pop3_enabled),
              mailstore_version = $4, state_observed_at = now(), updated_at = now()
        WHERE id = $1 AND (NOT $5 OR mailstore_version IS NULL OR mailstore_version <= $4
              OR (NOT $7 AND state_observed_at < (SELECT attempted_at FROM operations WHERE id = $6)))`,
      [
        accountId,
        access.imap ?? null,
        access.pop3 ?? null,
        access.version,
        answer.versionsNameWrites,
        operationId,
        answer.replayed,
      ],
    );
  }

  /** The account's latest wave memberships, newest wave first (on the pool). */
  async waveMemberships(accountId: number, limit: number): Promise<AccountWaveRow[]> {
    return this.dataSource.query<AccountWaveRow[]>(
      `SELECT m.wave_id AS "waveId", w.name, w.state AS "waveState", m.state AS "memberState", m.reason,
              COALESCE(m.rollback_state, CASE WHEN m.state = 'enabled' AND w.rollback_started_at IS NOT NULL
                THEN 'pending' END) AS "rollbackState", m.done_at AS "doneAt"
         FROM wave_members m JOIN waves w ON w.id = m.wave_id
        WHERE m.account_id = $1 ORDER BY w.created_at DESC LIMIT $2`,
      [accountId, limit],
    );
  }
}
