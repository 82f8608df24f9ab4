import type { ApprovalCommand, ApprovalCounts, ApprovalRule, ApprovalState, CanonicalPlan } from '@app/domain';
import { auditRowsSql } from '../db/audit-log';
import { Sql } from '../db/sql';

/** One approvals row. */
export interface ApprovalRow {
  id: string;
  wave_id: string | null;
  command: ApprovalCommand;
  rule: ApprovalRule;
  args: Record<string, unknown>;
  args_key: string;
  plan: CanonicalPlan | null;
  counts: ApprovalCounts | null;
  hash: string;
  state: ApprovalState;
  requested_by: string;
  requested_key: string;
  requested_at: Date;
  decided_by: string | null;
  decided_key: string | null;
  decided_at: Date | null;
  note: string | null;
  ended_reason: string | null;
  executed_at: Date | null;
  expires_at: Date;
}

export interface NewApproval {
  waveId: string | null;
  command: ApprovalCommand;
  rule: ApprovalRule;
  args: Record<string, unknown>;
  argsKey: string;
  plan: CanonicalPlan | null;
  counts: ApprovalCounts | null;
  hash: string;
  requestedBy: string;
  requestedKey: string;
  ttlSeconds: number;
}

const OPEN = `state IN ('pending', 'approved')`;
/** approvalAuditTarget's login in SQL, over an approvals row `e`: a support override's account (it has no wave). */
const APPROVAL_LOGIN_SQL = `CASE WHEN e.wave_id IS NULL THEN e.args->>'login' END`;

/**
 * The statements on approvals (docs/approvals.md). SQL only: what to write is decided by the domain's approval rules
 * and ApprovalGate / ApprovalService. Each method runs on the executor it is given.
 */
export class ApprovalRepository {
  /**
   * Open requests past their expiry end `expired`, each with its `approval.expired` audit row, in one statement
   * (expiry is applied when approvals are next read or used: nothing waits on a timer).
   */
  async expireDue(sql: Sql): Promise<number> {
    const rows = await sql<{ n: string }>(
      `WITH ended AS (
         UPDATE approvals SET state = 'expired', ended_reason = 'expired'
          WHERE ${OPEN} AND expires_at <= now()
        RETURNING id, wave_id, args, command, rule, expires_at, state
       ), audited AS (
         ${auditRowsSql(
           {
             actor: `'system'`,
             action: `'approval.expired'`,
             waveId: 'e.wave_id',
             login: APPROVAL_LOGIN_SQL,
             detail: `jsonb_build_object('approvalId', e.id, 'waveId', e.wave_id, 'command', e.command, 'rule', e.rule, 'expiresAt', e.expires_at)`,
           },
           'FROM ended e',
         )}
       )
       SELECT count(*) AS n FROM ended`,
    );
    return Number(rows[0]?.n ?? 0);
  }

  /**
   * A revoked key's open requests (pending or approved) and the approvals it gave that were not used yet end
   * `invalidated` (reason `key_revoked`), each with its `approval.invalidated` audit row (actor: who revoked it), in
   * one statement: the key no longer vouches for anything.
   */
  async endOfKey(sql: Sql, keyId: string, actor: string): Promise<number> {
    const rows = await sql<{ n: string }>(
      `WITH ended AS (
         UPDATE approvals SET state = 'invalidated', ended_reason = 'key_revoked'
          WHERE ${OPEN} AND (requested_key = $1 OR (state = 'approved' AND decided_key = $1))
        RETURNING *
       ), audited AS (
         ${auditRowsSql(
           {
             actor: '$2',
             action: `'approval.invalidated'`,
             waveId: 'e.wave_id',
             login: APPROVAL_LOGIN_SQL,
             detail: `jsonb_build_object('approvalId', e.id, 'waveId', e.wave_id, 'command', e.command, 'rule', e.rule,
                        'args', e.args, 'hash', e.hash, 'requestedBy', e.requested_by, 'expiresAt', e.expires_at,
                        'reason', 'key_revoked', 'keyId', $1::text)`,
           },
           'FROM ended e',
         )}
       )
       SELECT count(*) AS n FROM ended`,
      [keyId, actor],
    );
    return Number(rows[0]?.n ?? 0);
  }

  /** Whether the key that asked for this approval, or the one that gave it, is revoked now. */
  async keyRevoked(sql: Sql, id: string): Promise<boolean> {
    const [row] = await sql<{ revoked: boolean }>(
      `SELECT EXISTS (
         SELECT 1 FROM approvals a JOIN api_keys k ON k.id::text IN (a.requested_key, a.decided_key)
          WHERE a.id = $1 AND k.revoked_at IS NOT NULL) AS revoked`,
      [id],
    );
    return row?.revoked === true;
  }

  /** The open request for this command and input on this wave, locked, if any. */
  async lockOpen(sql: Sql, waveId: string | null, command: string, argsKey: string): Promise<ApprovalRow | undefined> {
    const [row] = await sql<ApprovalRow>(
      `SELECT * FROM approvals
        WHERE wave_id IS NOT DISTINCT FROM $1 AND command = $2 AND args_key = $3 AND ${OPEN}
        FOR UPDATE`,
      [waveId, command, argsKey],
    );
    return row;
  }

  async lockById(sql: Sql, id: string): Promise<ApprovalRow | undefined> {
    const [row] = await sql<ApprovalRow>(`SELECT * FROM approvals WHERE id = $1 FOR UPDATE`, [id]);
    return row;
  }

  async findById(sql: Sql, id: string): Promise<ApprovalRow | undefined> {
    const [row] = await sql<ApprovalRow>(`SELECT * FROM approvals WHERE id = $1`, [id]);
    return row;
  }

  async insert(sql: Sql, a: NewApproval): Promise<ApprovalRow> {
    const [row] = await sql<ApprovalRow>(
      `INSERT INTO approvals (wave_id, command, rule, args, args_key, plan, counts, hash, requested_by, requested_key,
                              expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, now() + make_interval(secs => $11))
       RETURNING *`,
      [
        a.waveId,
        a.command,
        a.rule,
        JSON.stringify(a.args),
        a.argsKey,
        a.plan === null ? null : JSON.stringify(a.plan),
        a.counts === null ? null : JSON.stringify(a.counts),
        a.hash,
        a.requestedBy,
        a.requestedKey,
        a.ttlSeconds,
      ],
    );
    return row;
  }

  /** Approved by a second key: from now, `ttlSeconds` to run it. */
  async approve(
    sql: Sql,
    id: string,
    by: { actor: string; key: string },
    note: string | null,
    ttlSeconds: number,
  ): Promise<ApprovalRow> {
    const [row] = await sql<ApprovalRow>(
      `UPDATE approvals SET state = 'approved', decided_by = $2, decided_key = $3, decided_at = now(), note = $4,
              expires_at = now() + make_interval(secs => $5)
        WHERE id = $1 RETURNING *`,
      [id, by.actor, by.key, note, ttlSeconds],
    );
    return row;
  }

  /**
   * Rejected, or withdrawn by its requester: `decided_key` names a second key (the table's check refuses the
   * requester's there), so a withdrawal leaves it null; `decided_by` says who.
   */
  async reject(sql: Sql, id: string, by: { actor: string; key: string }, note: string): Promise<ApprovalRow> {
    const [row] = await sql<ApprovalRow>(
      `UPDATE approvals SET state = 'rejected', decided_by = $2, decided_key = NULLIF($3, requested_key),
              decided_at = now(), note = $4,
              ended_reason = 'rejected'
        WHERE id = $1 RETURNING *`,
      [id, by.actor, by.key, note],
    );
    return row;
  }

  async markExecuted(sql: Sql, id: string): Promise<void> {
    await sql(`UPDATE approvals SET state = 'executed', executed_at = now() WHERE id = $1`, [id]);
  }

  async invalidate(sql: Sql, id: string, reason: string): Promise<void> {
    await sql(`UPDATE approvals SET state = 'invalidated', ended_reason = $2 WHERE id = $1`, [id, reason]);
  }

  /** The open requests of a wave, but `except`, locked (a change of its plan invalidates them). */
  async lockOpenOfWave(sql: Sql, waveId: string, except: string | null): Promise<ApprovalRow[]> {
    return sql<ApprovalRow>(
      `SELECT * FROM approvals WHERE wave_id = $1 AND ${OPEN} AND id IS DISTINCT FROM $2 ORDER BY requested_at FOR UPDATE`,
      [waveId, except],
    );
  }

  /** Requests in a state, newest first, at most `limit`. */
  async list(sql: Sql, filter: { state?: ApprovalState; waveId?: string }, limit: number): Promise<ApprovalRow[]> {
    return sql<ApprovalRow>(
      `SELECT * FROM approvals
        WHERE ($1::text IS NULL OR state = $1) AND ($2::uuid IS NULL OR wave_id = $2)
        ORDER BY requested_at DESC, id DESC LIMIT $3`,
      [filter.state ?? null, filter.waveId ?? null, limit],
    );
  }

  /** The last request of a wave that a second key approved (approved or since executed) before `before`. */
  async lastApproved(sql: Sql, waveId: string, before: Date): Promise<ApprovalRow | undefined> {
    const [row] = await sql<ApprovalRow>(
      `SELECT * FROM approvals
        WHERE wave_id = $1 AND decided_at IS NOT NULL AND state IN ('approved', 'executed') AND decided_at < $2
        ORDER BY decided_at DESC LIMIT 1`,
      [waveId, before],
    );
    return row;
  }
}
