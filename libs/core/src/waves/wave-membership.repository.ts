import {
  cancelPendingDelta,
  membershipDelta,
  normalizeSteps,
  rollbackQueueDelta,
  stepLimits,
  WAVE_STOPPED,
} from '@app/domain';
import { audit } from '../db/audit-log';
import { Sql } from '../db/sql';
import { applyCounters } from '../db/wave-counters';
import { SqlParams } from '../db/sql-params';
import { selectorWhereSql } from './wave-selector';
import type { WaveRow } from './wave-commands.service';

/**
 * The bulk membership writes behind lifecycle commands, run inside the command's transaction: freezing the
 * selector at start, moving the ramp's limit to the next step, and cancelling what is still pending.
 */

/** Resolves the selector once, in a deterministic order (account id), so batches never reshuffle. */
export async function freezeMembership(sql: Sql, wave: WaveRow): Promise<void> {
  const p = new SqlParams();
  const waveId = p.add(wave.id);
  const where = selectorWhereSql(wave.selector, wave.protocols, p.add);
  const [row] = await sql<{ n: string }>(
    `WITH ins AS (
       INSERT INTO wave_members (wave_id, seq, account_id)
       SELECT ${waveId}, row_number() OVER (ORDER BY a.id), a.id FROM accounts a WHERE ${where}
       RETURNING 1)
     SELECT count(*) AS n FROM ins`,
    p.values,
  );
  const members = Number(row.n);
  const limits = stepLimits(members, normalizeSteps(wave.steps));
  await sql(
    `UPDATE waves SET member_count = $2, membership_frozen_at = now(), step_limit_seq = $3, current_step = 0 WHERE id = $1`,
    [wave.id, members, limits[0] ?? members],
  );
  await applyCounters(sql, wave.id, membershipDelta(members));
  await audit(sql, {
    actor: 'engine',
    action: 'wave.membership_frozen',
    waveId: wave.id,
    detail: { members, stepLimits: limits },
  });
}

export async function advanceStep(sql: Sql, wave: WaveRow): Promise<void> {
  const limits = stepLimits(wave.member_count ?? 0, normalizeSteps(wave.steps));
  const next = limits[wave.current_step + 1] ?? wave.member_count ?? 0;
  await sql(`UPDATE waves SET step_limit_seq = $2 WHERE id = $1`, [wave.id, next]);
}

/**
 * Ends every member still pending as cancelled (reason `wave_stopped`); returns how many. Their ledger entry is the
 * command's own audit row, which carries this count (one row per member would be a million rows in the command).
 */
export async function cancelPending(sql: Sql, id: string): Promise<number> {
  const [row] = await sql<{ n: string }>(
    `WITH c AS (UPDATE wave_members SET state = 'cancelled', reason = '${WAVE_STOPPED}', done_at = now()
                 WHERE wave_id = $1 AND state = 'pending' RETURNING 1)
     SELECT count(*) AS n FROM c`,
    [id],
  );
  const n = Number(row.n);
  if (n) await applyCounters(sql, id, cancelPendingDelta(n));
  return n;
}

/**
 * Counts the members a rollback will restore, without touching them: every enabled member whose rollback_state is
 * still null waits for restoration once the wave's rollback has begun (the claim finds them through a partial
 * index). Their number is `enabled − rollback:total` (counters are exact, and every member counted in
 * rollback:total is an enabled one), added to rollback:total and rollback:pending. Called under the wave's lock in
 * the transaction that sets rollback_started_at; a second call adds nothing. Forward batches that settle after
 * it (in flight when the rollback began) count their own enabled members (settleForward). Returns the count.
 */
export async function countRollback(sql: Sql, waveId: string): Promise<number> {
  const [row] = await sql<{ n: string }>(
    `SELECT COALESCE(sum(value) FILTER (WHERE name = 'enabled'), 0)
          - COALESCE(sum(value) FILTER (WHERE name = 'rollback:total'), 0) AS n
       FROM wave_counters WHERE wave_id = $1 AND name IN ('enabled', 'rollback:total')`,
    [waveId],
  );
  const n = Number(row?.n ?? 0);
  if (n > 0) await applyCounters(sql, waveId, rollbackQueueDelta(n));
  return n;
}
