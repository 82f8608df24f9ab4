import { ForwardOutcome, RollbackOutcome } from '@app/domain';
import { ClaimedBatch } from './batch.types';
import { CallRecord } from './call-record';
import { RollbackAsks, SettledItem, Settlement } from './member-outcome';
import { PresumedOwn } from './resent-answer';
import { auditRowsSql } from '../db/audit-log';
import { Sql } from '../db/sql';
import { SqlParams } from '../db/sql-params';
import { counterParams, countersUpsertSql } from '../db/wave-counters';

/** The batch a settle closes: its row, the lease generation held (the fence), and how many items its call had. */
type SettledBatch = Pick<ClaimedBatch, 'id' | 'waveId' | 'fence' | 'members'>;

/**
 * A settle's own part, on the statement's parameters: `values`, the members' values as a row source (read as `v`),
 * and `writes`, its data-modifying CTEs, which read `v`, the guard `fin` and the wave id's placeholder.
 */
type SettleParts = (p: SqlParams, wave: string) => { values: string; writes: string };

/** Who asks othersWrites: a batch (its wave; `olderThan`: a forward batch's own id) or a support operation (its id). */
export interface WriterSelf {
  waveId?: string;
  olderThan?: number;
  operationId?: string;
}

/**
 * The statements that write a batch's answer (member outcomes decided by member-outcome.ts) and log its calls.
 * A settle answers false when the batch was no longer this worker's (nothing was written).
 */
export class BatchSettleRepository {
  /**
   * Writes a forward batch's answer in one statement: member outcomes (with the mailstore's `previous` as the exact
   * prior state), the accounts' new state (applied or unchanged items), one ledger row per member, the counters,
   * the batch row and the call's log row.
   */
  settleForward(
    sql: Sql,
    batch: SettledBatch,
    s: Settlement<ForwardOutcome>,
    call: CallRecord | undefined,
    /** Mailstore.versionsNameWrites: whether an older version answered is an older write (accountsCte). */
    versionsNameWrites = true,
    /** The answer is an earlier attempt's, replayed under the key (accountsCte). */
    replayed = false,
  ): Promise<boolean> {
    const parts: SettleParts = (p, wave) => ({
      values: itemValues(p, s.items, {
        pi: ['bool', s.items.map((x) => x.priorImap)],
        pp: ['bool', s.items.map((x) => x.priorPop3)],
        pv: ['int', s.items.map((x) => x.member.version)],
      }),
      writes: `
     members AS (
       UPDATE wave_members w
          SET state = v.state, reason = v.reason, done_at = now(),
              prior_imap = v.pi, prior_pop3 = v.pp, prior_version = v.pv, result_version = v.rv
         FROM v WHERE w.wave_id = ${wave} AND w.seq = v.seq AND EXISTS (SELECT 1 FROM fin) RETURNING 1),
     ${accountsCte(versionsNameWrites, replayed)},
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
    return settle(sql, batch, s, parts, call);
  }

  /**
   * Writes a rollback batch's answer in one statement (as settleForward, restoration states). A `reasked` member waits
   * for restoration again (no rollback state) at its `askAt` ifVersion (the version its conflict answered, or its own
   * when sent back to wait for another writer of ours: counted in rollback_requeues, claimable again only from
   * rollback_not_before); a restored one keeps the version its restoration made, a link in the chain of our writes
   * (RollbackBatchRepository.ownWrites).
   */
  settleRollback(
    sql: Sql,
    batch: SettledBatch,
    s: Settlement<RollbackOutcome> & Readonly<RollbackAsks>,
    call: CallRecord | undefined,
    /** Mailstore.versionsNameWrites (accountsCte). */
    versionsNameWrites = true,
    /** The answer is an earlier attempt's, replayed under the key (accountsCte). */
    replayed = false,
  ): Promise<boolean> {
    const parts: SettleParts = (p, wave) => ({
      values: itemValues(p, s.items, { iv: ['int', s.askAt], wait: ['int', s.waitMs] }),
      writes: `
     members AS (
       UPDATE wave_members w
          SET rollback_state = NULLIF(v.state, 'reasked'),
              rollback_reason = CASE WHEN v.state = 'reasked' THEN NULL ELSE v.reason END,
              rolled_back_at = CASE WHEN v.state = 'reasked' THEN NULL ELSE now() END,
              rollback_batch_id = CASE WHEN v.state = 'reasked' THEN NULL ELSE w.rollback_batch_id END,
              rollback_if_version = CASE WHEN v.state = 'reasked' THEN v.iv ELSE w.rollback_if_version END,
              rollback_requeues = w.rollback_requeues + CASE WHEN v.wait IS NULL THEN 0 ELSE 1 END,
              rollback_not_before = now() + make_interval(secs => v.wait / 1000.0),
              rollback_result_version = CASE WHEN v.state = 'rolled_back' THEN v.rv ELSE w.rollback_result_version END
         FROM v WHERE w.wave_id = ${wave} AND w.seq = v.seq AND EXISTS (SELECT 1 FROM fin) RETURNING 1),
     ${accountsCte(versionsNameWrites, replayed)},
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
    return settle(sql, batch, s, parts, call);
  }

  /**
   * Of the accounts a resend in doubt found already as asked (resent-answer.ts), by item index: `theirs`, those whose
   * state at the answered version another writer of ours is recorded to have made (another wave's enabled member, a
   * support operation that applied); `pending`, the others that another writer of ours may have written without
   * having recorded it yet (another wave's member in a batch already attempted, a support operation begun). Only
   * answers to writes are records here, never a read (a GET may have seen our own lost write's version).
   *
   * `self` says who asks: a batch's wave (its members are not others), or a support operation (itself is not another).
   * `self.olderThan`: a younger batch that is itself undecided (markUndecided) is not waited for. Two forward batches
   * resending in doubt on the same accounts each saw the other pending and waited for it, both until their waves
   * paused; now the younger waits and the older decides (the accounts its own: a rollback closes them) and records,
   * and the younger then finds that write recorded. A support operation counts as older than every batch (0), which
   * waits for it. A writer that is not waiting is still waited for, whatever its age (its answer may say it made the
   * state).
   */
  async othersWrites(
    sql: Sql,
    items: readonly PresumedOwn[],
    self: WriterSelf,
  ): Promise<{ theirs: Set<number>; pending: Set<number> }> {
    if (!items.length) return { theirs: new Set(), pending: new Set() };
    const { waveId = null, olderThan = null, operationId = null } = self;
    const rows = await sql<{ i: number; theirs: boolean }>(
      `SELECT i, theirs FROM (
         SELECT t.i,
                EXISTS (SELECT 1 FROM wave_members m
                         WHERE m.account_id = t.a AND m.wave_id IS DISTINCT FROM $1::uuid AND m.state = 'enabled'
                           AND m.result_version = t.v)
             OR EXISTS (SELECT 1 FROM operations o
                         WHERE o.account_id = t.a AND o.id IS DISTINCT FROM $6::uuid AND o.outcome = 'applied'
                           AND o.result_version = t.v) AS theirs,
                EXISTS (SELECT 1 FROM wave_members m JOIN wave_batches b ON b.id = m.batch_id
                         WHERE m.account_id = t.a AND m.wave_id IS DISTINCT FROM $1::uuid AND m.state = 'in_flight'
                           AND b.attempts > 0 AND NOT (b.undecided AND b.id > COALESCE($5::bigint, b.id)))
             OR EXISTS (SELECT 1 FROM operations o
                         WHERE o.account_id = t.a AND o.id IS DISTINCT FROM $6::uuid AND o.state IN ('queued', 'running')
                           AND o.attempts > 0) AS pending
           FROM unnest($2::int[], $3::bigint[], $4::int[]) AS t(i, a, v)) x
        WHERE theirs OR pending`,
      [
        waveId,
        items.map((x) => x.index),
        items.map((x) => x.accountId),
        items.map((x) => x.version),
        olderThan,
        operationId,
      ],
    );
    return {
      theirs: new Set(rows.filter((r) => r.theirs).map((r) => Number(r.i))),
      pending: new Set(rows.filter((r) => !r.theirs).map((r) => Number(r.i))),
    };
  }

  /** A resend in doubt that waits for another writer of ours to record (othersWrites' `self`). */
  async markUndecided(sql: Sql, batchId: number): Promise<void> {
    await sql(`UPDATE wave_batches SET undecided = true WHERE id = $1 AND NOT undecided`, [batchId]);
  }

  /** Logs a call that settled nothing (an answer that applied nothing, a retryable failure). */
  async recordCall(sql: Sql, batch: SettledBatch, call: CallRecord): Promise<void> {
    const p = new SqlParams();
    await sql(
      callRowSql(p, call, { wave: p.add(batch.waveId), batchId: p.add(batch.id), items: batch.members.length }),
      p.values,
    );
  }
}

/**
 * One statement, one implicit transaction, one round trip: the batch row is closed only if this worker still
 * holds it (`fin`: its lease generation, the fence), and every other write is conditioned on that, so a batch taken
 * over after a lease expiry is settled exactly once (the loser's statement changes nothing and answers false).
 *
 * Its commit is asynchronous (`synchronous_commit` off for this transaction only): the batch's idempotency key
 * and attempt were made durable before the call (the send permit commits synchronously), so if PostgreSQL crashes
 * and loses this settle, the batch stays claimed with an attempt, another pump takes it over when the lease
 * expires and the mailstore replays its stored answer under the same key. Nothing is applied twice; the settle
 * is only written again.
 *
 * Every value is a named placeholder from SqlParams: none is counted by hand.
 */
async function settle<O>(
  sql: Sql,
  batch: SettledBatch,
  s: Settlement<O>,
  parts: SettleParts,
  call: CallRecord | undefined,
): Promise<boolean> {
  const p = new SqlParams();
  const batchId = p.add(batch.id);
  const fence = p.add(batch.fence);
  const wave = p.add(batch.waveId);
  const { values, writes } = parts(p, wave);
  const callCte = call
    ? `, logged AS (
         ${callRowSql(p, call, { wave, batchId, items: batch.members.length }, 'FROM fin')})`
    : '';
  const [row] = await sql<{ n: number }>(
    `WITH fin AS (
       UPDATE wave_batches SET state = 'done', completed_at = now(), summary = ${p.add(JSON.stringify(s.summary))}
        WHERE id = ${batchId} AND state = 'claimed' AND lease_gen = ${fence} RETURNING id, attempted_at),
     async_commit AS (SELECT set_config('synchronous_commit', 'off', true) FROM fin),
     v AS (SELECT * FROM ${values}),
     ${writes},${s.enabled > 0 ? `${rollbackStartedCte(wave)},` : ''}
     counted AS (
       ${countersUpsertSql(counterSource(p, wave, s))})${callCte}
     SELECT count(*)::int AS n FROM fin, async_commit`,
    p.values,
  );
  return !!row && row.n > 0;
}

/** The members' values every settle writes, plus the lane's own `extra` columns. */
function itemValues<O extends { state: string }>(
  p: SqlParams,
  items: readonly SettledItem<O>[],
  extra: Record<string, readonly [string, readonly unknown[]]>,
): string {
  return p.unnest('v', {
    seq: ['int', items.map((x) => x.member.seq)],
    a: ['bigint', items.map((x) => x.member.accountId)],
    l: ['text', items.map((x) => x.member.login)],
    state: ['text', items.map((x) => x.outcome.state)],
    reason: ['text', items.map((x) => x.reason)],
    ...extra,
    rv: ['int', items.map((x) => x.version)],
    ni: ['bool', items.map((x) => x.imap)],
    np: ['bool', items.map((x) => x.pop3)],
    known: ['bool', items.map((x) => x.known)],
  });
}

/*
 * A batch in flight when its wave's rollback began (a straggler) settles after the rollback command counted
 * `enabled − rollback:total`: its enabled members are claimable for restoration at once, so it counts them itself.
 * FOR SHARE waits for a rollback command holding the wave row and then reads the row as that command left it,
 * so every enabled member is counted exactly once, by the command or by its own settle. Taken before any
 * counter row (every counter row below joins rb), as the command does, so the two cannot deadlock.
 */
function rollbackStartedCte(wave: string): string {
  return `rb AS (SELECT rollback_started_at IS NOT NULL AS started FROM waves WHERE id = ${wave} FOR SHARE)`;
}

/** The counters' rows of a settle: its delta, and the straggler's enabled members for a rollback begun meanwhile. */
function counterSource<O>(p: SqlParams, wave: string, s: Settlement<O>): string {
  const counters = counterParams(s.delta);
  const straggler = s.enabled > 0;
  return (
    `SELECT ${wave}, t.n, t.c FROM unnest(${p.add(counters.names, 'text[]')}, ${p.add(counters.values, 'bigint[]')}) AS t(n, c)${straggler ? ', rb' : ''}
      WHERE EXISTS (SELECT 1 FROM fin) AND ${AFTER_WRITES}` +
    (straggler
      ? ` UNION ALL
         SELECT ${wave}, r.n, ${p.add(s.enabled, 'bigint')} FROM rb, unnest(ARRAY['rollback:total', 'rollback:pending']) AS r(n)
          WHERE rb.started AND EXISTS (SELECT 1 FROM fin) AND ${AFTER_WRITES}`
      : '')
  );
}

/**
 * The one writer of a wave batch's mailstore_calls row (the support lane logs its own, with an operation instead):
 * `INSERT … SELECT` of the call's values, `from` a guard (the settle's `fin`) or nothing.
 */
function callRowSql(
  p: SqlParams,
  call: CallRecord,
  of: { wave: string; batchId: string; items: number },
  from = '',
): string {
  return `INSERT INTO mailstore_calls (wave_id, batch_id, started_at, latency_ms, http_status, outcome, items, item_errors)
         SELECT ${of.wave}, ${of.batchId}, ${p.add(call.startedAt)}, ${p.add(Math.round(call.latencyMs))}, ${p.add(call.httpStatus)},
                ${p.add(call.outcome)}, ${p.add(of.items)}, ${p.add(call.itemErrors)} ${from}`;
}

/**
 * The service's view of each account, from what the mailstore answered (items with a known state only). Never back in
 * time where versions name writes (Mailstore.versionsNameWrites: a support change answered with a later version may
 * have been written first), unless this attempt was permitted after the account's state was last recorded: its answer
 * is then newer whatever its version (a row or entry an operator re-created starts its version again; kept out, the
 * account stayed recorded closed while open). Not a replayed answer (`Idempotent-Replayed`): it tells of an earlier
 * attempt under the key, permitted before this one; taken as newer, a batch resent after support had closed an
 * account it opened recorded the account open again. Where versions do not name writes (a passdb's fingerprint of the
 * switches, lower after any close), a version says nothing of order and the answer is recorded: kept out, a
 * rollback's close left the account recorded open, and a later wave's open at a lower fingerprint left it recorded
 * closed.
 */
function accountsCte(versionsNameWrites: boolean, replayed: boolean): string {
  const permittedAfter = replayed ? '' : `OR a.state_observed_at < (SELECT attempted_at FROM fin)`;
  const inOrder = versionsNameWrites
    ? `AND (v.rv IS NULL OR a.mailstore_version IS NULL OR a.mailstore_version <= v.rv ${permittedAfter})`
    : '';
  return `accounts_seen AS (
       UPDATE accounts a
          SET imap_enabled = COALESCE(v.ni, a.imap_enabled), pop3_enabled = COALESCE(v.np, a.pop3_enabled),
              mailstore_version = COALESCE(v.rv, a.mailstore_version), state_observed_at = now(), updated_at = now()
         FROM v WHERE a.id = v.a AND v.known AND EXISTS (SELECT 1 FROM fin) ${inOrder} RETURNING 1)`;
}

/**
 * Makes the counters' CTE wait for the others. The order in which PostgreSQL runs a statement's data-modifying
 * CTEs is not defined; reading the others' RETURNING rows first means the hot counter rows are locked last and
 * held only until the commit, which every pump's claim and settle queue for.
 */
const AFTER_WRITES = `(SELECT count(*) FROM members) + (SELECT count(*) FROM accounts_seen) + (SELECT count(*) FROM ledger) >= 0`;
