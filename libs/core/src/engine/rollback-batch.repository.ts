import { rollbackClaimDelta } from '@app/domain';
import { ClaimedBatch } from './batch.types';
import { claimBatchSql, claimedBatchOf, ClaimRow } from './batch-claim.sql';
import { Sql } from '../db/sql';
import { SqlParams } from '../db/sql-params';

/**
 * A member's rollback `ifVersion`, over its row `m`: the version our forward change produced, or the one a conflict
 * answered when only our own later writes on other protocols made it (rollback_if_version, libs/domain
 * rollback-reask.ts).
 */
export const ROLLBACK_IF_VERSION = (m: string) => `COALESCE(${m}.rollback_if_version, ${m}.result_version)`;

/**
 * A member waiting for restoration that may be claimed now: not sent back to wait for another writer of ours, or its
 * wait over (rollback_not_before, libs/domain requeueDelayMs).
 */
const ROLLBACK_WAITING = `state = 'enabled' AND rollback_state IS NULL`;
const ROLLBACK_DUE = `${ROLLBACK_WAITING} AND (rollback_not_before IS NULL OR rollback_not_before <= now())`;

/** Our recorded writes to an account (libs/domain OwnWrite), as read for a rollback's conflicts. */
export interface OwnWriteRow {
  account_id: string;
  from_version: number;
  to_version: number;
  names: ('imap' | 'pop3')[];
}

/** Our recorded writes to some accounts, and what a rollback's judgement of their conflicts needs beside them. */
export interface OwnWrites {
  writes: OwnWriteRow[];
  /** Accounts another writer of ours may have written without having recorded it yet. */
  pending: Set<number>;
  /** This wave's members' rollback_requeues, by account. */
  requeues: Map<number, number>;
}

/** The statements of the rollback lane's claim and its conflicts' question (its settle is BatchSettleRepository's). */
export class RollbackBatchRepository {
  /** Whether any member waiting for restoration may be claimed now (one probe of the rollback index). */
  async anyLeft(sql: Sql, waveId: string): Promise<boolean> {
    const rows = await sql(`SELECT 1 FROM wave_members WHERE wave_id = $1 AND ${ROLLBACK_DUE} LIMIT 1`, [waveId]);
    return rows.length > 0;
  }

  /**
   * In how many milliseconds (on the database's clock) the first member sent back to wait for another writer of ours
   * may be claimed again, if one waits (read when a claim found nothing: the rollback index then holds only such
   * members).
   */
  async nextDueInMs(sql: Sql, waveId: string): Promise<number | null> {
    const [row] = await sql<{ ms: number | null }>(
      `SELECT ceil(extract(epoch FROM min(rollback_not_before) - now()) * 1000)::int AS ms FROM wave_members
        WHERE wave_id = $1 AND ${ROLLBACK_WAITING} AND rollback_not_before > now()`,
      [waveId],
    );
    return row?.ms ?? null;
  }

  /**
   * Claims the next members to restore (enabled, not yet restored, not waiting) and creates their batch
   * (claimBatchSql: one statement), with each member's recorded prior state and its ifVersion (ROLLBACK_IF_VERSION).
   */
  async claim(
    sql: Sql,
    waveId: string,
    size: number,
    workerId: string,
    leaseMs: number,
    /** Members at or below it were claimed by this pump already (see ForwardBatchRepository.claim). */
    floor = 0,
  ): Promise<ClaimedBatch | null> {
    const p = new SqlParams();
    const text = claimBatchSql(
      p,
      {
        kind: 'rollback',
        set: `rollback_state = 'in_flight', rollback_batch_id = (SELECT id FROM b)`,
        claimable: () => ROLLBACK_DUE,
        returning: 'm.seq, m.account_id, m.prior_imap, m.prior_pop3, m.result_version, m.rollback_if_version',
        select: `c.account_id, a.login, c.prior_imap, c.prior_pop3, ${ROLLBACK_IF_VERSION('c')} AS version`,
        perMember: rollbackClaimDelta(1),
      },
      { waveId, size, floor, workerId, leaseMs },
    );
    return claimedBatchOf('rollback', waveId, await sql<ClaimRow>(text, p.values));
  }

  /**
   * Every write of ours to these accounts whose versions are recorded, in one query: a wave's forward write (from the
   * version its permit read; naming the wave's protocols that were off), its restoration (from its ifVersion), and
   * support's rollback of one member (from its If-Match). Support's enable and disable record no version they found:
   * no chain goes through them, so their changes are kept. `pending`: accounts another writer of ours may have written
   * without having recorded it yet (another wave's member in a batch of either lane already attempted, a support
   * operation begun), as othersWrites asks; `requeues`: this wave's members' rollback_requeues, by account. Read only
   * for a rollback's conflicts: a batch's, or support's rollback of one member (`exceptOperation`: that operation,
   * running, is not another writer).
   */
  async ownWrites(
    sql: Sql,
    waveId: string,
    accountIds: readonly number[],
    exceptOperation: string | null = null,
  ): Promise<OwnWrites> {
    if (!accountIds.length) return { writes: [], pending: new Set(), requeues: new Map() };
    const rows = await sql<OwnWriteRow & { kind: 'write' | 'pending' | 'requeues'; n: number | null }>(
      `WITH m AS (
         SELECT m.*, ARRAY(SELECT p FROM unnest(w.protocols) AS p
                            WHERE (p = 'imap' AND NOT m.prior_imap) OR (p = 'pop3' AND NOT m.prior_pop3)) AS names
           FROM wave_members m JOIN waves w ON w.id = m.wave_id
          WHERE m.account_id = ANY($1::bigint[]))
       SELECT account_id, prior_version AS from_version, result_version AS to_version, names, 'write' AS kind, NULL::int AS n
         FROM m WHERE state = 'enabled' AND prior_version IS NOT NULL AND result_version IS NOT NULL
       UNION ALL
       SELECT account_id, ${ROLLBACK_IF_VERSION('m')}, rollback_result_version, names, 'write', NULL FROM m
        WHERE state = 'enabled' AND rollback_state = 'rolled_back' AND rollback_result_version IS NOT NULL
          AND ${ROLLBACK_IF_VERSION('m')} IS NOT NULL
       UNION ALL
       SELECT account_id, if_version, result_version, protocols, 'write', NULL FROM operations
        WHERE account_id = ANY($1::bigint[]) AND kind = 'rollback' AND outcome = 'applied'
          AND if_version IS NOT NULL AND result_version IS NOT NULL
       UNION ALL
       SELECT m.account_id, NULL, NULL, NULL, 'pending', NULL FROM m JOIN wave_batches b ON b.id = m.batch_id
        WHERE m.wave_id <> $2 AND m.state = 'in_flight' AND b.attempts > 0
       UNION ALL
       SELECT m.account_id, NULL, NULL, NULL, 'pending', NULL FROM m JOIN wave_batches b ON b.id = m.rollback_batch_id
        WHERE m.wave_id <> $2 AND m.rollback_state = 'in_flight' AND b.attempts > 0
       UNION ALL
       SELECT account_id, NULL, NULL, NULL, 'pending', NULL FROM operations
        WHERE account_id = ANY($1::bigint[]) AND state IN ('queued', 'running') AND attempts > 0
          AND ($3::uuid IS NULL OR id <> $3::uuid)
       UNION ALL
       SELECT account_id, NULL, NULL, NULL, 'requeues', rollback_requeues FROM m WHERE wave_id = $2`,
      [accountIds, waveId, exceptOperation],
    );
    return {
      writes: rows.filter((r) => r.kind === 'write'),
      pending: new Set(rows.filter((r) => r.kind === 'pending').map((r) => Number(r.account_id))),
      requeues: new Map(rows.filter((r) => r.kind === 'requeues').map((r) => [Number(r.account_id), Number(r.n)])),
    };
  }
}
