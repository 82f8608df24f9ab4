import { CounterDelta, ForwardOutcome, RollbackOutcome, rollbackSettleDelta, settleDelta } from '@app/domain';
import { BatchItemResult } from '@app/mailstore';
import { BatchLostError, BatchMember, ClaimedBatch } from './batch.types';
import { CallRecord } from './call-record';
import { forwardOutcome, rollbackOutcome } from './member-outcome';
import { auditRowsSql } from '../db/audit-log';
import { Sql } from '../db/sql';
import { SqlParams } from '../db/sql-params';
import { counterParams, countersUpsertSql } from '../db/wave-counters';

/**
 * A settle's own part, on the statement's parameters: `values`, the members' values as a row source (read as `v`),
 * and `writes`, its data-modifying CTEs, which read `v`, the guard `fin` and the wave id's placeholder.
 */
type SettleParts = (p: SqlParams, wave: string) => { values: string; writes: string };

/**
 * One statement, one implicit transaction, one round trip: the batch row is closed only if this worker still
 * holds it (`fin`: its lease generation, the fence), and every other write is conditioned on that, so a batch taken over after a lease expiry is
 * settled exactly once (the loser's statement changes nothing and gets BatchLostError).
 *
 * Its commit is asynchronous (`synchronous_commit` off for this transaction only): the batch's idempotency key
 * and attempt were made durable before the call (the send permit commits synchronously), so if PostgreSQL crashes
 * and loses this settle, the batch stays claimed with an attempt, another pump takes it over when the lease
 * expires and the mailstore replays its stored answer under the same key. Nothing is applied twice; the settle
 * is only written again.
 *
 * Every value is a named placeholder from SqlParams: none is counted by hand.
 */
async function settleStatement(
  sql: Sql,
  batch: ClaimedBatch,
  results: readonly BatchItemResult[],
  parts: SettleParts,
  delta: CounterDelta,
  call: CallRecord | undefined,
  /** Forward: members this batch enabled, queued for restoration too if the wave's rollback has begun. */
  enabled = 0,
): Promise<void> {
  const summary: Record<string, number> = {};
  for (const r of results) summary[r.status] = (summary[r.status] ?? 0) + 1;
  const p = new SqlParams();
  const batchId = p.add(batch.id);
  const fence = p.add(batch.fence);
  const wave = p.add(batch.waveId);
  const { values, writes } = parts(p, wave);
  const counters = counterParams(delta);
  const callCte = call
    ? `, logged AS (
         INSERT INTO mailstore_calls (wave_id, batch_id, started_at, latency_ms, http_status, outcome, items, item_errors)
         SELECT ${wave}, ${batchId}, ${p.add(call.startedAt)}, ${p.add(Math.round(call.latencyMs))}, ${p.add(call.httpStatus)},
                ${p.add(call.outcome)}, ${p.add(batch.members.length)}, ${p.add(call.itemErrors)} FROM fin)`
    : '';
  // A batch in flight when its wave's rollback began (a straggler) settles after the rollback command counted
  // `enabled − rollback:total`: its enabled members are claimable for restoration at once, so it counts them itself.
  // FOR SHARE waits for a rollback command holding the wave row and then reads the row as that command left it,
  // so every enabled member is counted exactly once, by the command or by its own settle. Taken before any
  // counter row (every counter row below joins rb), as the command does, so the two cannot deadlock.
  const rbCte =
    enabled > 0
      ? `rb AS (SELECT rollback_started_at IS NOT NULL AS started FROM waves WHERE id = ${wave} FOR SHARE),`
      : '';
  const counterSource =
    `SELECT ${wave}, t.n, t.c FROM unnest(${p.add(counters.names, 'text[]')}, ${p.add(counters.values, 'bigint[]')}) AS t(n, c)${enabled > 0 ? ', rb' : ''}
      WHERE EXISTS (SELECT 1 FROM fin) AND ${AFTER_WRITES}` +
    (enabled > 0
      ? ` UNION ALL
         SELECT ${wave}, r.n, ${p.add(enabled, 'bigint')} FROM rb, unnest(ARRAY['rollback:total', 'rollback:pending']) AS r(n)
          WHERE rb.started AND EXISTS (SELECT 1 FROM fin) AND ${AFTER_WRITES}`
      : '');
  const [row] = await sql<{ n: number }>(
    `WITH fin AS (
       UPDATE wave_batches SET state = 'done', completed_at = now(), summary = ${p.add(JSON.stringify(summary))}
        WHERE id = ${batchId} AND state = 'claimed' AND lease_gen = ${fence} RETURNING id),
     async_commit AS (SELECT set_config('synchronous_commit', 'off', true) FROM fin),
     v AS (SELECT * FROM ${values}),
     ${writes},${rbCte}
     counted AS (
       ${countersUpsertSql(counterSource)})${callCte}
     SELECT count(*)::int AS n FROM fin, async_commit`,
    p.values,
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
  results: readonly BatchItemResult[],
  call?: CallRecord,
): Promise<ForwardOutcome[]> {
  const outcomes = results.map(forwardOutcome);
  const m = batch.members;
  const prior = (r: BatchItemResult, member: BatchMember, p: 'imap' | 'pop3') =>
    r.previous?.[p] ?? (p === 'imap' ? member.priorImap : member.priorPop3);
  const parts: SettleParts = (p, wave) => ({
    values: p.unnest('v', {
      seq: ['int', m.map((x) => x.seq)],
      a: ['bigint', m.map((x) => x.accountId)],
      l: ['text', m.map((x) => x.login)],
      state: ['text', outcomes.map((o) => o.state)],
      reason: ['text', outcomes.map((o) => (o.state === 'enabled' ? null : o.reason))],
      pi: ['bool', results.map((r, i) => prior(r, m[i], 'imap'))],
      pp: ['bool', results.map((r, i) => prior(r, m[i], 'pop3'))],
      pv: ['int', m.map((x) => x.version)],
      rv: ['int', results.map((r) => r.version ?? null)],
      ni: ['bool', results.map((r) => r.protocols?.imap ?? null)],
      np: ['bool', results.map((r) => r.protocols?.pop3 ?? null)],
      known: ['bool', results.map(knownState)],
    }),
    writes: `
     members AS (
       UPDATE wave_members w
          SET state = v.state, reason = v.reason, done_at = now(),
              prior_imap = v.pi, prior_pop3 = v.pp, prior_version = v.pv, result_version = v.rv
         FROM v WHERE w.wave_id = ${wave} AND w.seq = v.seq AND EXISTS (SELECT 1 FROM fin) RETURNING 1),
     ${ACCOUNTS_CTE},
     ledger AS (
       ${auditRowsSql(
         {
           actor: `'engine'`,
           action: `'member.' || v.state`,
           waveId: wave,
           accountId: 'v.a',
           login: 'v.l',
           reason: 'v.reason',
           before: `jsonb_build_object('imap', v.pi, 'pop3', v.pp)`,
           after: `CASE WHEN v.state = 'enabled' THEN jsonb_build_object('imap', v.ni, 'pop3', v.np, 'version', v.rv) END`,
         },
         'FROM v WHERE EXISTS (SELECT 1 FROM fin)',
       )}
       RETURNING 1)`,
  });
  const enabled = outcomes.filter((o) => o.state === 'enabled').length;
  await settleStatement(sql, batch, results, parts, settleDelta(outcomes), call, enabled);
  return outcomes;
}

export async function settleRollback(
  sql: Sql,
  batch: ClaimedBatch,
  results: readonly BatchItemResult[],
  call?: CallRecord,
): Promise<RollbackOutcome[]> {
  const outcomes = results.map(rollbackOutcome);
  const m = batch.members;
  const parts: SettleParts = (p, wave) => ({
    values: p.unnest('v', {
      seq: ['int', m.map((x) => x.seq)],
      a: ['bigint', m.map((x) => x.accountId)],
      l: ['text', m.map((x) => x.login)],
      state: ['text', outcomes.map((o) => o.state)],
      reason: ['text', outcomes.map((o) => (o.state === 'failed' ? o.reason : null))],
      ni: ['bool', results.map((r) => r.protocols?.imap ?? null)],
      np: ['bool', results.map((r) => r.protocols?.pop3 ?? null)],
      rv: ['int', results.map((r) => r.version ?? null)],
      known: ['bool', results.map(knownState)],
    }),
    writes: `
     members AS (
       UPDATE wave_members w SET rollback_state = v.state, rollback_reason = v.reason, rolled_back_at = now()
         FROM v WHERE w.wave_id = ${wave} AND w.seq = v.seq AND EXISTS (SELECT 1 FROM fin) RETURNING 1),
     ${ACCOUNTS_CTE},
     ledger AS (
       ${auditRowsSql(
         {
           actor: `'engine'`,
           action: `'member.rollback.' || v.state`,
           waveId: wave,
           accountId: 'v.a',
           login: 'v.l',
           reason: 'v.reason',
           after: `CASE WHEN v.ni IS NOT NULL OR v.np IS NOT NULL
                        THEN jsonb_build_object('imap', v.ni, 'pop3', v.np, 'version', v.rv) END`,
         },
         'FROM v WHERE EXISTS (SELECT 1 FROM fin)',
       )}
       RETURNING 1)`,
  });
  await settleStatement(sql, batch, results, parts, rollbackSettleDelta(outcomes), call);
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
         FROM v WHERE a.id = v.a AND v.known AND EXISTS (SELECT 1 FROM fin)
          -- never back in time: a support change answered with a later version may have been written first
          AND (v.rv IS NULL OR a.mailstore_version IS NULL OR a.mailstore_version <= v.rv) RETURNING 1)`;

/**
 * Makes the counters' CTE wait for the others. The order in which PostgreSQL runs a statement's data-modifying
 * CTEs is not defined; reading the others' RETURNING rows first means the hot counter rows are locked last and
 * held only until the commit, which every pump's claim and settle queue for.
 */
const AFTER_WRITES = `(SELECT count(*) FROM members) + (SELECT count(*) FROM accounts_seen) + (SELECT count(*) FROM ledger) >= 0`;

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
