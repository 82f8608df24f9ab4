import {
  CounterDelta,
  ForwardOutcome,
  releaseDelta,
  rollbackReleaseDelta,
  RollbackOutcome,
  rollbackSettleDelta,
  settleDelta,
} from '@app/domain';
import { BatchItemResult } from '@app/mailstore';
import { BatchKind, BatchMember, ClaimedBatch } from './batch.types';
import { applyCounters, counterParams, Sql } from './sql';

/** What one item's answer means for a forward member. */
export function forwardOutcome(r: BatchItemResult): ForwardOutcome {
  switch (r.status) {
    case 'applied':
      return { state: 'enabled' };
    case 'unchanged':
      // The mailstore already had it so (our view was stale): nothing of ours to roll back.
      return { state: 'skipped', reason: 'already_enabled' };
    case 'not_found':
      return { state: 'failed', reason: 'account_not_found' };
    case 'conflict':
      return { state: 'failed', reason: 'conflict' };
    case 'invalid':
      return { state: 'failed', reason: sanitize(r.error?.code ?? 'invalid') };
  }
}

export function rollbackOutcome(r: BatchItemResult): RollbackOutcome {
  switch (r.status) {
    case 'applied':
      return { state: 'rolled_back' };
    case 'unchanged':
      return { state: 'unchanged' };
    // ifVersion: somebody (support, another wave) changed the account since; their change is kept.
    case 'conflict':
      return { state: 'conflict' };
    case 'not_found':
      return { state: 'failed', reason: 'account_not_found' };
    case 'invalid':
      return { state: 'failed', reason: sanitize(r.error?.code ?? 'invalid') };
  }
}

function sanitize(code: string): string {
  const clean = code.replace(/[^a-z0-9_.-]/gi, '_').slice(0, 64);
  return clean || 'invalid';
}

/** The call that produced a batch's answer, logged with the settle (latency and error-rate metrics). */
export interface CallRecord {
  startedAt: Date;
  latencyMs: number;
  httpStatus: number | null;
  outcome: string;
  itemErrors: number;
}

/**
 * One statement, one implicit transaction, one round trip: the batch row is closed only if this worker still
 * holds it (`fin`), and every other write is conditioned on that, so a batch taken over after a lease expiry is
 * settled exactly once (the loser's statement changes nothing and gets BatchLostError). `writes` are the
 * batch's data-modifying CTEs, reading the members' values from `v` and the guard from `fin`.
 *
 * Its commit is asynchronous (`synchronous_commit` off for this transaction only): the batch's idempotency key
 * and attempt were made durable before the call (markAttempt commits synchronously), so if PostgreSQL crashes
 * and loses this settle, the batch stays claimed with an attempt, another pump takes it over when the lease
 * expires and the mailstore replays its stored answer under the same key. Nothing is applied twice; the settle
 * is only written again.
 */
async function settleStatement(
  sql: Sql,
  batch: ClaimedBatch,
  workerId: string,
  results: readonly BatchItemResult[],
  values: { columns: string; params: unknown[] },
  writes: string,
  delta: CounterDelta,
  call: CallRecord | undefined,
): Promise<void> {
  const summary: Record<string, number> = {};
  for (const r of results) summary[r.status] = (summary[r.status] ?? 0) + 1;
  const counters = counterParams(delta);
  const n = 6 + values.params.length; // $1..$4 guard and wave, $5/$6 counters, then the values, then the call
  const callCte = call
    ? `, logged AS (
         INSERT INTO mailstore_calls (wave_id, batch_id, started_at, latency_ms, http_status, outcome, items, item_errors)
         SELECT $4, $1, $${n + 1}, $${n + 2}, $${n + 3}, $${n + 4}, $${n + 5}, $${n + 6} FROM fin)`
    : '';
  const callParams = call
    ? [call.startedAt, Math.round(call.latencyMs), call.httpStatus, call.outcome, batch.members.length, call.itemErrors]
    : [];
  const [row] = await sql<{ n: number }>(
    `WITH fin AS (
       UPDATE wave_batches SET state = 'done', completed_at = now(), summary = $3
        WHERE id = $1 AND state = 'claimed' AND claimed_by = $2 RETURNING id),
     async_commit AS (SELECT set_config('synchronous_commit', 'off', true) FROM fin),
     v AS (SELECT * FROM ${values.columns}),
     ${writes},
     counted AS (
       INSERT INTO wave_counters (wave_id, name, value)
       SELECT $4, t.n, t.c FROM unnest($5::text[], $6::bigint[]) AS t(n, c)
        WHERE EXISTS (SELECT 1 FROM fin) AND ${AFTER_WRITES}
       ON CONFLICT (wave_id, name) DO UPDATE SET value = wave_counters.value + EXCLUDED.value)${callCte}
     SELECT count(*)::int AS n FROM fin, async_commit`,
    [
      batch.id,
      workerId,
      JSON.stringify(summary),
      batch.waveId,
      counters.names,
      counters.values,
      ...values.params,
      ...callParams,
    ],
  );
  if (!row || row.n === 0) throw new BatchLostError(batch.id);
}

/**
 * Writes a forward batch's answer in one statement: member outcomes (with the mailstore's `previous` as the exact
 * prior state), the accounts' new state (applied or unchanged items), one ledger row per member, the counters,
 * the batch row and the call's log row.
 */
export async function settleForward(
  sql: Sql,
  batch: ClaimedBatch,
  workerId: string,
  results: readonly BatchItemResult[],
  call?: CallRecord,
): Promise<ForwardOutcome[]> {
  const outcomes = results.map(forwardOutcome);
  const m = batch.members;
  const prior = (r: BatchItemResult, member: BatchMember, p: 'imap' | 'pop3') =>
    r.previous?.[p] ?? (p === 'imap' ? member.priorImap : member.priorPop3);
  const values = {
    columns: `unnest($7::int[], $8::bigint[], $9::text[], $10::text[], $11::text[], $12::bool[], $13::bool[],
                     $14::int[], $15::int[], $16::bool[], $17::bool[], $18::bool[])
              AS v(seq, a, l, state, reason, pi, pp, pv, rv, ni, np, known)`,
    params: [
      m.map((x) => x.seq),
      m.map((x) => x.accountId),
      m.map((x) => x.login),
      outcomes.map((o) => o.state),
      outcomes.map((o) => (o.state === 'enabled' ? null : o.reason)),
      results.map((r, i) => prior(r, m[i], 'imap')),
      results.map((r, i) => prior(r, m[i], 'pop3')),
      m.map((x) => x.version),
      results.map((r) => r.version ?? null),
      results.map((r) => r.protocols?.imap ?? null),
      results.map((r) => r.protocols?.pop3 ?? null),
      results.map(knownState),
    ],
  };
  const writes = `
     members AS (
       UPDATE wave_members w
          SET state = v.state, reason = v.reason, done_at = now(),
              prior_imap = v.pi, prior_pop3 = v.pp, prior_version = v.pv, result_version = v.rv
         FROM v WHERE w.wave_id = $4 AND w.seq = v.seq AND EXISTS (SELECT 1 FROM fin) RETURNING 1),
     ${ACCOUNTS_CTE},
     ledger AS (
       INSERT INTO audit_log (actor, action, wave_id, account_id, login, reason, before, after)
       SELECT 'engine', 'member.' || v.state, $4, v.a, v.l, v.reason,
              jsonb_build_object('imap', v.pi, 'pop3', v.pp),
              CASE WHEN v.state = 'enabled' THEN jsonb_build_object('imap', v.ni, 'pop3', v.np, 'version', v.rv) END
         FROM v WHERE EXISTS (SELECT 1 FROM fin) RETURNING 1)`;
  await settleStatement(sql, batch, workerId, results, values, writes, settleDelta(outcomes), call);
  return outcomes;
}

export async function settleRollback(
  sql: Sql,
  batch: ClaimedBatch,
  workerId: string,
  results: readonly BatchItemResult[],
  call?: CallRecord,
): Promise<RollbackOutcome[]> {
  const outcomes = results.map(rollbackOutcome);
  const m = batch.members;
  const values = {
    columns: `unnest($7::int[], $8::bigint[], $9::text[], $10::text[], $11::text[], $12::bool[], $13::bool[],
                     $14::int[], $15::bool[])
              AS v(seq, a, l, state, reason, ni, np, rv, known)`,
    params: [
      m.map((x) => x.seq),
      m.map((x) => x.accountId),
      m.map((x) => x.login),
      outcomes.map((o) => o.state),
      outcomes.map((o) => (o.state === 'failed' ? o.reason : null)),
      results.map((r) => r.protocols?.imap ?? null),
      results.map((r) => r.protocols?.pop3 ?? null),
      results.map((r) => r.version ?? null),
      results.map(knownState),
    ],
  };
  const writes = `
     members AS (
       UPDATE wave_members w SET rollback_state = v.state, rollback_reason = v.reason, rolled_back_at = now()
         FROM v WHERE w.wave_id = $4 AND w.seq = v.seq AND EXISTS (SELECT 1 FROM fin) RETURNING 1),
     ${ACCOUNTS_CTE},
     ledger AS (
       INSERT INTO audit_log (actor, action, wave_id, account_id, login, reason, after)
       SELECT 'engine', 'member.rollback.' || v.state, $4, v.a, v.l, v.reason,
              CASE WHEN v.ni IS NOT NULL OR v.np IS NOT NULL
                   THEN jsonb_build_object('imap', v.ni, 'pop3', v.np, 'version', v.rv) END
         FROM v WHERE EXISTS (SELECT 1 FROM fin) RETURNING 1)`;
  await settleStatement(sql, batch, workerId, results, values, writes, rollbackSettleDelta(outcomes), call);
  return outcomes;
}

/** Whether an item's answer tells the account's state (applied or unchanged, with protocols). */
function knownState(r: BatchItemResult): boolean {
  return (r.status === 'applied' || r.status === 'unchanged') && r.protocols !== undefined;
}

/** The service's view of each account, from what the mailstore answered (items with a known state only). */
const ACCOUNTS_CTE = `accounts_seen AS (
       UPDATE accounts a
          SET imap_enabled = COALESCE(v.ni, a.imap_enabled), pop3_enabled = COALESCE(v.np, a.pop3_enabled),
              mailstore_version = COALESCE(v.rv, a.mailstore_version), state_observed_at = now(), updated_at = now()
         FROM v WHERE a.id = v.a AND v.known AND EXISTS (SELECT 1 FROM fin) RETURNING 1)`;

/**
 * Makes the counters' CTE wait for the others. The order in which PostgreSQL runs a statement's data-modifying
 * CTEs is not defined; reading the others' RETURNING rows first means the hot counter rows are locked last and
 * held only until the commit, which every pump's claim and settle queue for.
 */
const AFTER_WRITES = `(SELECT count(*) FROM members) + (SELECT count(*) FROM accounts_seen) + (SELECT count(*) FROM ledger) >= 0`;

/** Thrown when another worker took the batch over (our lease expired): its answer is theirs to write. */
export class BatchLostError extends Error {
  constructor(readonly batchId: number) {
    super(`batch ${batchId} is no longer ours`);
    this.name = 'BatchLostError';
  }
}

/**
 * Hands back a batch that was never sent (paused or halted before its first attempt): members pend again,
 * the key is retired unused. If the wave was cancelled or is being rolled back meanwhile, the members end as
 * cancelled instead (cancel already turned every other pending member into cancelled). A batch that may have
 * reached the mailstore is never released: it keeps its key.
 */
export async function releaseBatch(sql: Sql, batch: ClaimedBatch): Promise<void> {
  const seqs = batch.members.map((x) => x.seq);
  if (batch.kind === 'forward') {
    const [w] = await sql<{ state: string }>(`SELECT state FROM waves WHERE id = $1 FOR SHARE`, [batch.waveId]);
    const resumable = w !== undefined && ['running', 'paused', 'halted'].includes(w.state);
    await sql(
      `UPDATE wave_members
          SET state = $3, batch_id = NULL, attempts = GREATEST(attempts - 1, 0),
              reason = CASE WHEN $3 = 'cancelled' THEN 'wave_stopped' END,
              done_at = CASE WHEN $3 = 'cancelled' THEN now() END
        WHERE wave_id = $1 AND seq = ANY($2::int[])`,
      [batch.waveId, seqs, resumable ? 'pending' : 'cancelled'],
    );
    await applyCounters(
      sql,
      batch.waveId,
      resumable ? releaseDelta(seqs.length) : { in_flight: -seqs.length, cancelled: seqs.length },
    );
  } else {
    await sql(
      `UPDATE wave_members SET rollback_state = 'pending', rollback_batch_id = NULL WHERE wave_id = $1 AND seq = ANY($2::int[])`,
      [batch.waveId, seqs],
    );
    await applyCounters(sql, batch.waveId, rollbackReleaseDelta(seqs.length));
  }
  await sql(`UPDATE wave_batches SET state = 'released', completed_at = now() WHERE id = $1`, [batch.id]);
}

/**
 * Takes over one batch whose lease expired (its worker died or stalled) and rebuilds it exactly as claimed,
 * so it is sent again under its own idempotency key.
 */
export async function takeOverStaleBatch(
  sql: Sql,
  waveId: string,
  kind: BatchKind,
  workerId: string,
  leaseMs: number,
): Promise<ClaimedBatch | null> {
  const [b] = await sql<{ id: string; idempotency_key: string; attempts: number }>(
    `UPDATE wave_batches SET claimed_by = $3, lease_until = now() + ($4 || ' milliseconds')::interval
      WHERE id = (SELECT id FROM wave_batches WHERE wave_id = $1 AND kind = $2 AND state = 'claimed' AND lease_until < now()
                  ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
      RETURNING id, idempotency_key, attempts`,
    [waveId, kind, workerId, String(leaseMs)],
  );
  if (!b) return null;
  const column = kind === 'forward' ? 'batch_id' : 'rollback_batch_id';
  const rows = await sql<{
    seq: number;
    account_id: string;
    login: string;
    prior_imap: boolean;
    prior_pop3: boolean;
    v: number | null;
  }>(
    `SELECT m.seq, m.account_id, a.login, m.prior_imap, m.prior_pop3,
            ${kind === 'forward' ? 'm.prior_version' : 'm.result_version'} AS v
       FROM wave_members m JOIN accounts a ON a.id = m.account_id
      WHERE m.wave_id = $1 AND m.${column} = $2 AND m.${kind === 'forward' ? 'state' : 'rollback_state'} = 'in_flight'
      ORDER BY m.seq`,
    [waveId, b.id],
  );
  return {
    id: Number(b.id),
    waveId,
    kind,
    idempotencyKey: b.idempotency_key,
    attempts: b.attempts,
    members: rows.map((r) => ({
      seq: r.seq,
      accountId: Number(r.account_id),
      login: r.login,
      priorImap: r.prior_imap ?? false,
      priorPop3: r.prior_pop3 ?? false,
      version: r.v,
    })),
  };
}

/**
 * Members of a never-sent batch that support put on hold since the claim: skipped as `held` (terminal, with a
 * ledger row), the batch shrinks to the others, and closes if none is left. The batch had no attempt, so its
 * key has never been used and its body may still change.
 */
export async function skipHeldMembers(sql: Sql, batch: ClaimedBatch, seqs: number[]): Promise<void> {
  const held = batch.members.filter((m) => seqs.includes(m.seq));
  await sql(
    `UPDATE wave_members SET state = 'skipped', reason = 'held', done_at = now(), batch_id = NULL
      WHERE wave_id = $1 AND seq = ANY($2::int[])`,
    [batch.waveId, seqs],
  );
  await sql(
    `INSERT INTO audit_log (actor, action, wave_id, account_id, login, reason)
     SELECT 'engine', 'member.skipped', $1, a, l, 'held' FROM unnest($2::bigint[], $3::text[]) AS t(a, l)`,
    [batch.waveId, held.map((m) => m.accountId), held.map((m) => m.login)],
  );
  batch.members = batch.members.filter((m) => !seqs.includes(m.seq));
  await sql(
    `UPDATE wave_batches SET size = $2, state = CASE WHEN $2::int = 0 THEN 'done' ELSE state END,
            completed_at = CASE WHEN $2::int = 0 THEN now() END WHERE id = $1`,
    [batch.id, batch.members.length],
  );
  await applyCounters(sql, batch.waveId, settleDelta(held.map(() => ({ state: 'skipped' as const, reason: 'held' }))));
}

/**
 * Right before a call, under the wave's shared lock, in one statement: the wave is still in a state that allows
 * the call (and of the pump's generation), none of the members was put on hold since the claim (first forward
 * attempt only), and the batch is still ours; then the attempt is counted and the lease extended past the call's
 * timeout. Committed synchronously: the key's first use is durable before the call leaves (and with it every
 * earlier asynchronous commit, the claim's included).
 */
export async function markAttempt(
  sql: Sql,
  batch: ClaimedBatch,
  workerId: string,
  leaseMs: number,
  check: { generation: number; allowedStates: string[]; checkHolds: boolean },
): Promise<'attempted' | 'stopped' | { held: number[] }> {
  const [row] = await sql<{ callable: boolean; held: number[]; attempted: boolean }>(
    `WITH w AS (SELECT 1 FROM waves WHERE id = $4 AND generation = $5 AND state = ANY($6::text[])),
     held AS (SELECT m.seq FROM wave_members m JOIN accounts a ON a.id = m.account_id
               WHERE $7 AND m.wave_id = $4 AND m.seq = ANY($8::int[]) AND a.held),
     attempt AS (
       UPDATE wave_batches SET attempts = attempts + 1, lease_until = now() + ($3 || ' milliseconds')::interval
        WHERE id = $1 AND state = 'claimed' AND claimed_by = $2
          AND EXISTS (SELECT 1 FROM w) AND NOT EXISTS (SELECT 1 FROM held)
        RETURNING id)
     SELECT EXISTS (SELECT 1 FROM w) AS callable, ARRAY(SELECT seq FROM held ORDER BY seq) AS held,
            EXISTS (SELECT 1 FROM attempt) AS attempted`,
    [
      batch.id,
      workerId,
      String(leaseMs),
      batch.waveId,
      check.generation,
      check.allowedStates,
      check.checkHolds,
      check.checkHolds ? batch.members.map((m) => m.seq) : [],
    ],
  );
  if (!row.callable) return 'stopped';
  if (row.held.length) return { held: row.held };
  if (!row.attempted) throw new BatchLostError(batch.id);
  batch.attempts++;
  return 'attempted';
}

/** Keeps a batch ours while we wait (Retry-After, backoff) longer than its lease. */
export async function extendLease(sql: Sql, batch: ClaimedBatch, workerId: string, leaseMs: number): Promise<void> {
  const rows = await sql(
    `UPDATE wave_batches SET lease_until = now() + ($3 || ' milliseconds')::interval
      WHERE id = $1 AND state = 'claimed' AND claimed_by = $2 RETURNING id`,
    [batch.id, workerId, String(leaseMs)],
  );
  if (!rows.length) throw new BatchLostError(batch.id);
}

export async function recordCall(
  sql: Sql,
  call: CallRecord & { waveId: string; batchId: number; items: number },
): Promise<void> {
  await sql(
    `INSERT INTO mailstore_calls (wave_id, batch_id, started_at, latency_ms, http_status, outcome, items, item_errors)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [
      call.waveId,
      call.batchId,
      call.startedAt,
      Math.round(call.latencyMs),
      call.httpStatus,
      call.outcome,
      call.items,
      call.itemErrors,
    ],
  );
}
