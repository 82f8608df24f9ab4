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
import { counterParams, Sql } from './sql';

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
  /** Null when nothing was left to claim (within the current ramp step), or every claimed member was skipped. */
  batch: ClaimedBatch | null;
  claimed: number;
  skipped: number;
  /** Highest seq claimed: the pump's floor for its next claim (the index scan starts there). */
  lastSeq: number;
}

/**
 * Claims the next members of a wave in seq order (SKIP LOCKED, so pumps never take the same member), decides
 * eligibility now (not at planning), settles the skipped ones at once, records the prior state of the others and
 * creates the batch row with its idempotency key, all in the caller's transaction:
 *  1. lock and read the members with their accounts (one SELECT … FOR UPDATE SKIP LOCKED);
 *  2. the eligibility rules (pure TypeScript, libs/domain) decide each member;
 *  3. one statement writes every member's new state (each row once), the ledger rows of the skipped, the batch
 *     row and the counters, so the hot counter rows are held only from that statement to the commit.
 * `floor`: members at or below it were claimed by this pump already (the pending index is scanned from there
 * instead of from its start, which grows with dead entries until a vacuum).
 */
export async function claimForwardBatch(
  sql: Sql,
  wave: { id: string; protocols: Protocol[]; stepLimitSeq: number | null },
  size: number,
  incidentAt: Date,
  workerId: string,
  leaseMs: number,
  floor = 0,
): Promise<ClaimResult> {
  const rows = await sql<ClaimedRow>(
    `WITH b AS (SELECT nextval(pg_get_serial_sequence('wave_batches', 'id')) AS id),
     picked AS (
       SELECT seq, account_id FROM wave_members
        WHERE wave_id = $1 AND state = 'pending' AND seq > $4 AND seq <= $2
        ORDER BY seq LIMIT $3 FOR UPDATE SKIP LOCKED)
     SELECT (SELECT id FROM b) AS batch_id, p.seq, p.account_id, a.login, a.leaked, a.password_changed_at, a.held,
            a.override_reason, a.override_ticket, a.imap_enabled, a.pop3_enabled, a.mailstore_version
       FROM picked p JOIN accounts a ON a.id = p.account_id
      ORDER BY p.seq`,
    [wave.id, wave.stepLimitSeq ?? 2147483647, size, floor],
  );
  if (!rows.length) return { batch: null, claimed: 0, skipped: 0, lastSeq: floor };
  const batchId = Number(rows[0].batch_id);

  const eligible: BatchMember[] = [];
  const skipped: { row: ClaimedRow; reason: SkipReason }[] = [];
  const reasons: (SkipReason | null)[] = [];
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
      reasons.push(null);
      eligible.push({
        seq: row.seq,
        accountId: Number(row.account_id),
        login: row.login,
        priorImap: row.imap_enabled,
        priorPop3: row.pop3_enabled,
        version: row.mailstore_version,
      });
    } else {
      reasons.push(decision.reason);
      skipped.push({ row, reason: decision.reason });
    }
  }

  // One statement: skipped members are terminal now, eligible ones go in flight with the prior state seen at
  // claim (refined by the mailstore's `previous` when the call answers); ledger rows for the skipped; the batch
  // row with its idempotency key; the counters. Its commit may be asynchronous: nothing leaves for the mailstore
  // before markAttempt's synchronous commit, which makes this one durable too.
  const key = `wave-${wave.id}/forward/batch-${batchId}`;
  const counters = counterParams(
    mergeDeltas(
      claimDelta(rows.length),
      settleDelta(skipped.map((x) => ({ state: 'skipped' as const, reason: x.reason }))),
    ),
  );
  await sql(
    `WITH v AS (SELECT * FROM unnest($2::int[], $3::text[], $4::bool[], $5::bool[], $6::int[], $7::bigint[], $8::text[])
                 AS v(seq, reason, imap, pop3, version, a, l)),
     members AS (
       UPDATE wave_members m
          SET state = CASE WHEN v.reason IS NULL THEN 'in_flight' ELSE 'skipped' END,
              reason = v.reason,
              attempts = m.attempts + 1,
              done_at = CASE WHEN v.reason IS NULL THEN NULL ELSE now() END,
              batch_id = CASE WHEN v.reason IS NULL THEN $9::bigint END,
              prior_imap = v.imap, prior_pop3 = v.pop3, prior_version = v.version
         FROM v WHERE m.wave_id = $1 AND m.seq = v.seq RETURNING 1),
     ledger AS (
       INSERT INTO audit_log (actor, action, wave_id, account_id, login, reason)
       SELECT 'engine', 'member.skipped', $1, v.a, v.l, v.reason FROM v WHERE v.reason IS NOT NULL RETURNING 1),
     batch AS (
       INSERT INTO wave_batches (id, wave_id, kind, batch_no, state, size, first_seq, last_seq, idempotency_key,
                                 claimed_by, lease_until, completed_at)
       OVERRIDING SYSTEM VALUE
       VALUES ($9::bigint, $1, 'forward', $9::int, $10, $11, $12, $13, $14, $15,
               now() + ($16 || ' milliseconds')::interval, CASE WHEN $11::int = 0 THEN now() END) RETURNING 1),
     counted AS (
       INSERT INTO wave_counters (wave_id, name, value)
       SELECT $1, t.n, t.c FROM unnest($17::text[], $18::bigint[]) AS t(n, c)
        -- the other writes first (their order is not defined otherwise): the hot counter rows are locked last
        WHERE (SELECT count(*) FROM members) + (SELECT count(*) FROM ledger) + (SELECT count(*) FROM batch) >= 0
       ON CONFLICT (wave_id, name) DO UPDATE SET value = wave_counters.value + EXCLUDED.value)
     SELECT set_config('synchronous_commit', 'off', true)`,
    [
      wave.id,
      rows.map((r) => r.seq),
      reasons,
      rows.map((r) => r.imap_enabled),
      rows.map((r) => r.pop3_enabled),
      rows.map((r) => r.mailstore_version),
      rows.map((r) => r.account_id),
      rows.map((r) => r.login),
      batchId,
      eligible.length ? 'claimed' : 'done',
      eligible.length,
      rows[0].seq,
      rows[rows.length - 1].seq,
      key,
      workerId,
      String(leaseMs),
      counters.names,
      counters.values,
    ],
  );
  return {
    batch: eligible.length
      ? { id: batchId, waveId: wave.id, kind: 'forward', idempotencyKey: key, attempts: 0, members: eligible }
      : null,
    claimed: rows.length,
    skipped: skipped.length,
    lastSeq: rows[rows.length - 1].seq,
  };
}
