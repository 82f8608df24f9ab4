import {
  claimDelta,
  decideEligibility,
  hasActiveOverride,
  mergeDeltas,
  Protocol,
  settleDelta,
  SkipReason,
} from '@app/domain';
import { BatchMember, ClaimedBatch } from './batch.types';
import { applyCounters, Sql } from './sql';

interface ClaimedRow {
  batch_id: string;
  seq: number;
  account_id: string;
  login: string;
  leaked: boolean;
  password_changed_at: Date | null;
  held: boolean;
  override_reason: string | null;
  override_ticket: string | null;
  imap_enabled: boolean;
  pop3_enabled: boolean;
  mailstore_version: number | null;
}

export interface ClaimResult {
  /** Null when nothing was left to claim (within the current ramp step). */
  batch: ClaimedBatch | null;
  claimed: number;
  skipped: number;
}

/**
 * Claims the next members of a wave in seq order (SKIP LOCKED, so pumps never take the same member), decides
 * eligibility now (not at planning), settles the skipped ones at once, records the prior state of the others and
 * creates the batch row with its idempotency key: all in the caller's transaction, one statement per step.
 */
export async function claimForwardBatch(
  sql: Sql,
  wave: { id: string; protocols: Protocol[]; stepLimitSeq: number | null },
  size: number,
  incidentAt: Date,
  workerId: string,
  leaseMs: number,
): Promise<ClaimResult> {
  const rows = await sql<ClaimedRow>(
    `WITH b AS (SELECT nextval(pg_get_serial_sequence('wave_batches', 'id')) AS id),
     claimed AS (
       UPDATE wave_members m SET state = 'in_flight', batch_id = (SELECT id FROM b), attempts = m.attempts + 1
       WHERE m.wave_id = $1 AND m.seq = ANY(ARRAY(
         SELECT seq FROM wave_members
         WHERE wave_id = $1 AND state = 'pending' AND seq <= $2
         ORDER BY seq LIMIT $3 FOR UPDATE SKIP LOCKED))
       RETURNING m.seq, m.account_id)
     SELECT (SELECT id FROM b) AS batch_id, c.seq, c.account_id, a.login, a.leaked, a.password_changed_at, a.held,
            a.override_reason, a.override_ticket, a.imap_enabled, a.pop3_enabled, a.mailstore_version
     FROM claimed c JOIN accounts a ON a.id = c.account_id
     ORDER BY c.seq`,
    [wave.id, wave.stepLimitSeq ?? 2147483647, size],
  );
  if (!rows.length) return { batch: null, claimed: 0, skipped: 0 };
  const batchId = Number(rows[0].batch_id);

  const eligible: BatchMember[] = [];
  const skipped: { row: ClaimedRow; reason: SkipReason }[] = [];
  const reasonBySeq = new Map<number, SkipReason>();
  for (const row of rows) {
    const decision = decideEligibility(
      {
        leaked: row.leaked,
        passwordChangedAt: row.password_changed_at,
        held: row.held,
        overrideActive: hasActiveOverride({ overrideReason: row.override_reason, overrideTicket: row.override_ticket }),
        imap: row.imap_enabled,
        pop3: row.pop3_enabled,
      },
      wave.protocols,
      incidentAt,
    );
    if (decision.eligible) {
      eligible.push({
        seq: row.seq,
        accountId: Number(row.account_id),
        login: row.login,
        priorImap: row.imap_enabled,
        priorPop3: row.pop3_enabled,
        version: row.mailstore_version,
      });
    } else {
      skipped.push({ row, reason: decision.reason });
      reasonBySeq.set(row.seq, decision.reason);
    }
  }

  // Skipped members are terminal now; eligible ones keep the prior state seen at claim (refined by the
  // mailstore's `previous` when the call answers).
  await sql(
    `UPDATE wave_members m
        SET state = CASE WHEN v.reason IS NULL THEN 'in_flight' ELSE 'skipped' END,
            reason = v.reason,
            done_at = CASE WHEN v.reason IS NULL THEN NULL ELSE now() END,
            batch_id = CASE WHEN v.reason IS NULL THEN m.batch_id ELSE NULL END,
            prior_imap = v.imap, prior_pop3 = v.pop3, prior_version = v.version
       FROM unnest($2::int[], $3::text[], $4::bool[], $5::bool[], $6::int[]) AS v(seq, reason, imap, pop3, version)
      WHERE m.wave_id = $1 AND m.seq = v.seq`,
    [
      wave.id,
      rows.map((r) => r.seq),
      rows.map((r) => reasonBySeq.get(r.seq) ?? null),
      rows.map((r) => r.imap_enabled),
      rows.map((r) => r.pop3_enabled),
      rows.map((r) => r.mailstore_version),
    ],
  );
  if (skipped.length) {
    await sql(
      `INSERT INTO audit_log (actor, action, wave_id, account_id, login, reason)
       SELECT 'engine', 'member.skipped', $1, a, l, r FROM unnest($2::bigint[], $3::text[], $4::text[]) AS t(a, l, r)`,
      [wave.id, skipped.map((s) => s.row.account_id), skipped.map((s) => s.row.login), skipped.map((s) => s.reason)],
    );
  }

  const skipDelta = settleDelta(skipped.map((s) => ({ state: 'skipped' as const, reason: s.reason })));
  await applyCounters(sql, wave.id, mergeDeltas(claimDelta(rows.length), skipDelta));

  const key = `wave-${wave.id}/forward/batch-${batchId}`;
  await sql(
    `INSERT INTO wave_batches (id, wave_id, kind, batch_no, state, size, first_seq, last_seq, idempotency_key,
                               claimed_by, lease_until, completed_at)
     OVERRIDING SYSTEM VALUE
     VALUES ($1::bigint, $2, 'forward', $1::int, $3, $4, $5, $6, $7, $8, now() + ($9 || ' milliseconds')::interval,
             CASE WHEN $4::int = 0 THEN now() END)`,
    [
      batchId,
      wave.id,
      eligible.length ? 'claimed' : 'done',
      eligible.length,
      rows[0].seq,
      rows[rows.length - 1].seq,
      key,
      workerId,
      String(leaseMs),
    ],
  );
  return {
    batch: eligible.length
      ? { id: batchId, waveId: wave.id, kind: 'forward', idempotencyKey: key, attempts: 0, members: eligible }
      : null,
    claimed: rows.length,
    skipped: skipped.length,
  };
}
