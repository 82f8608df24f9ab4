import { CounterDelta, redecidedBatchKeySql } from '@app/domain';
import { EligibilityRow } from './batch.types';
import { FirstPermitCheck, PermitCheck, SkippedMember } from './permit-decision';
import { auditRowsSql } from '../db/audit-log';
import { Sql } from '../db/sql';
import { SqlParams } from '../db/sql-params';
import { counterParams, countersUpsertSql } from '../db/wave-counters';

/*
 * The send permit: the one statement, committed synchronously, after which a worker may start a batch's call, and
 * before whose deadline it must have started it (or not start it at all). It checks, under row locks taken with
 * SKIP LOCKED (a permit never waits for anybody, so nobody waits for a frozen worker):
 *  - the wave is in a state that allows the call, in the pump's generation (FOR SHARE of the wave row: a command
 *    that stops the wave either commits first, and the permit sees it, or waits for this one statement);
 *  - the batch is still this worker's (its lease generation, `fence`);
 *  - on a first forward attempt (or a later one when every attempt before it applied nothing: the batch is not in
 *    doubt), every eligibility rule (held, leaked and not reset, override, already enabled),
 *    decided by the domain's `decideEligibility` on the accounts as they are now. Every change that can make an
 *    account ineligible (a hold, an import) adds one to `eligibility_epoch` in its transaction; the permit read the
 *    epoch with the accounts and commits only if it is unchanged, holding its row FOR SHARE SKIP LOCKED for its one
 *    statement. Such a change therefore either commits first (the permit is refused and decided again) or waits
 *    for this statement. Members found ineligible end `skipped` with their reason in the same statement.
 * A command that must stop calls (pause, halt, cancel, hold, an import) commits, then waits until the last permit
 * granted before it has passed its deadline (permits/send-permit-fence.ts): never on a worker, at most the send window.
 */

/** The lease and the send window a permit sets. */
export interface PermitTimes {
  /** The lease after the permit: it must outlast the call and its settle. */
  leaseMs: number;
  /** The send window: the call starts within this long of the statement's start, or not at all. */
  windowMs: number;
}

/** The batch row a permit writes, as this worker holds it. */
export interface PermitBatch {
  id: number;
  waveId: string;
  /** The lease generation this worker holds. */
  fence: number;
}

/** A first forward permit's statement: what the pump decided (decidePermit), to commit under the checks. */
export interface FirstPermitWrite {
  wave: { generation: number };
  /** The eligibility epoch the accounts were read at ('-1' when there were none: never matches). */
  epoch: string;
  /** The members sent, with their prior state: [seq, imap, pop3, version] (the batch row's `priors`). */
  priors: [number, boolean, boolean, number | null][];
  skipped: readonly SkippedMember[];
  /** The counters' change for the skipped members. */
  skippedDelta: CounterDelta;
  times: PermitTimes;
}

/**
 * The columns of an EligibilityRow, over `m` (wave_members) joined with `a` (accounts), read in one statement (one
 * snapshot with the epoch). The claim returns them too, so the first permit right after it needs no read of its own.
 */
export const ELIGIBILITY_COLUMNS = `a.id AS account_id, a.login, a.leaked, a.password_changed_at, a.held,
            a.override_reason, a.override_ticket, a.override_expires_at, a.imap_enabled, a.pop3_enabled, a.mailstore_version,
            (SELECT epoch FROM eligibility_epoch WHERE id = 1) AS epoch`;

/** A permit's statement's answer, as PermitCheck's columns. */
interface PermitCheckRow {
  locked_wave: boolean;
  wave_as_read: boolean | null;
  locked_epoch?: boolean;
  epoch_as_read?: boolean | null;
  attempted: boolean;
  key?: string | null;
  key_since?: number | null;
}

/** The statements of a batch's send permit (see the top of this file). Every batch write is fenced. */
export class SendPermitRepository {
  /** A batch's members' accounts, read with the eligibility epoch of the read (one snapshot). */
  readEligibility(sql: Sql, waveId: string, seqs: readonly number[]): Promise<EligibilityRow[]> {
    return sql<EligibilityRow>(
      `SELECT m.seq, ${ELIGIBILITY_COLUMNS}
         FROM wave_members m JOIN accounts a ON a.id = m.account_id
        WHERE m.wave_id = $1 AND m.seq = ANY($2::int[])
        ORDER BY m.seq`,
      [waveId, seqs],
    );
  }

  /**
   * The first attempt of a forward batch (or a later one when no attempt before it may have applied anything): in
   * one statement takes the permit under the wave and epoch checks, records the eligible members' prior state on the
   * batch row (or closes the batch when none is eligible) and ends the skipped ones with their reason, ledger rows
   * and counters included. Returns the checks and the batch's key (changed when the batch, decided again, has another
   * body), with the attempts made before it (`keySince`).
   */
  async grantFirstForward(
    sql: Sql,
    batch: PermitBatch,
    w: FirstPermitWrite,
  ): Promise<FirstPermitCheck & { key: string | null; keySince: number | null }> {
    const p = new SqlParams();
    const wave = p.add(batch.waveId);
    const generation = p.add(w.wave.generation);
    const epoch = p.add(w.epoch);
    const size = p.add(w.priors.length, 'int');
    const priors = p.add(JSON.stringify(w.priors), 'jsonb');
    // Decided again after attempts that applied nothing: the body (buildRequest: each member's login and the
    // protocols that were off) changes only if the members or their prior switches did. The same body keeps its key,
    // as the contract asks after a 429 or a 5xx (section 5: not stored, "same key"); a new body gets a new one, or
    // the mailstore would refuse it as a reused key.
    const body = (json: string) =>
      `(SELECT jsonb_agg(jsonb_build_array(e->0, e->1, e->2) ORDER BY o) FROM jsonb_array_elements(${json}) WITH ORDINALITY AS x(e, o))`;
    const newBody = `attempts > 0 AND ${body('priors')} IS DISTINCT FROM ${body(priors)}`;
    const [row] = await sql<PermitCheckRow>(
      `WITH w AS (SELECT 1 FROM waves WHERE id = ${wave} AND generation = ${generation} AND state = 'running' FOR SHARE SKIP LOCKED),
       seen AS (SELECT 1 FROM eligibility_epoch WHERE id = 1 AND epoch = ${epoch} FOR SHARE SKIP LOCKED),
       go AS (SELECT EXISTS (SELECT 1 FROM w) AND EXISTS (SELECT 1 FROM seen) AS ok),
       attempt AS (
         UPDATE wave_batches
            SET attempts = attempts + CASE WHEN ${size} > 0 THEN 1 ELSE 0 END, size = ${size},
                state = CASE WHEN ${size} > 0 THEN 'claimed' ELSE 'done' END,
                completed_at = CASE WHEN ${size} > 0 THEN NULL ELSE now() END,
                lease_until = now() + (${p.add(String(w.times.leaseMs))} || ' milliseconds')::interval,
                send_deadline = CASE WHEN ${size} > 0 THEN now() + (${p.add(String(w.times.windowMs))} || ' milliseconds')::interval END,
                attempted_at = now(),
                priors = ${priors}, in_doubt = ${size} > 0,
                idempotency_key = CASE WHEN ${newBody} THEN ${redecidedBatchKeySql('idempotency_key', 'attempts')}
                                       ELSE idempotency_key END,
                key_since = CASE WHEN ${newBody} THEN attempts ELSE key_since END
          WHERE id = ${p.add(batch.id)} AND state = 'claimed' AND lease_gen = ${p.add(batch.fence)}
            AND (attempts = 0 OR NOT in_doubt) AND (SELECT ok FROM go)
          RETURNING id, idempotency_key, key_since),
       ${skippedWritesSql(p, wave, w)}
       SELECT EXISTS (SELECT 1 FROM w) AS locked_wave, EXISTS (SELECT 1 FROM seen) AS locked_epoch,
              (SELECT generation = ${generation} AND state = 'running' FROM waves WHERE id = ${wave}) AS wave_as_read,
              (SELECT epoch = ${epoch} FROM eligibility_epoch WHERE id = 1) AS epoch_as_read,
              EXISTS (SELECT 1 FROM attempt) AS attempted, (SELECT idempotency_key FROM attempt) AS key,
              (SELECT key_since FROM attempt) AS key_since`,
      p.values,
    );
    return {
      ...checkOf(row),
      lockedEpoch: row.locked_epoch === true,
      epochAsRead: row.epoch_as_read ?? null,
      key: row.key ?? null,
      keySince: row.key_since ?? null,
    };
  }

  /**
   * Any other attempt (a forward retry, which must resend the recorded body unchanged, or a rollback batch): the
   * wave allows the call and the batch is still ours; the attempt is counted and the permit's deadline set.
   */
  async grantAttempt(
    sql: Sql,
    batch: PermitBatch,
    wave: { generation: number; allowedStates: readonly string[] },
    times: PermitTimes,
  ): Promise<PermitCheck> {
    const p = new SqlParams();
    const id = p.add(batch.waveId);
    const generation = p.add(wave.generation);
    const states = p.add(wave.allowedStates, 'text[]');
    const [row] = await sql<PermitCheckRow>(
      `WITH w AS (SELECT 1 FROM waves WHERE id = ${id} AND generation = ${generation} AND state = ANY(${states}) FOR SHARE SKIP LOCKED),
       attempt AS (
         UPDATE wave_batches SET attempts = attempts + 1, lease_until = now() + (${p.add(String(times.leaseMs))} || ' milliseconds')::interval,
                send_deadline = now() + (${p.add(String(times.windowMs))} || ' milliseconds')::interval, in_doubt = true,
                attempted_at = now()
          WHERE id = ${p.add(batch.id)} AND state = 'claimed' AND lease_gen = ${p.add(batch.fence)} AND EXISTS (SELECT 1 FROM w)
          RETURNING id)
       SELECT EXISTS (SELECT 1 FROM w) AS locked_wave,
              (SELECT generation = ${generation} AND state = ANY(${states}) FROM waves WHERE id = ${id}) AS wave_as_read,
              EXISTS (SELECT 1 FROM attempt) AS attempted`,
      p.values,
    );
    return checkOf(row);
  }

  /**
   * Takes an attempt back (its call never started: the send window was missed), restoring the batch's doubt as it
   * was before it. Fenced: false if the batch was taken over meanwhile (nothing changes).
   */
  async withdrawAttempt(sql: Sql, batch: PermitBatch, inDoubtBefore: boolean): Promise<boolean> {
    const rows = await sql(
      `UPDATE wave_batches SET attempts = attempts - 1, send_deadline = NULL, in_doubt = $3
        WHERE id = $1 AND state = 'claimed' AND lease_gen = $2 AND attempts > 0 RETURNING id`,
      [batch.id, batch.fence, inDoubtBefore],
    );
    return rows.length > 0;
  }
}

/**
 * The skipped members' writes of a first permit, each conditioned on the attempt being written: the members end
 * skipped with their reason, a ledger row each, the counters (the other writes first: the hot counter rows are locked
 * last, until the commit). Only the skipped members are written here (the eligible ones stay in flight; their prior
 * state is on the batch row, and the settle writes it to each of them).
 */
function skippedWritesSql(p: SqlParams, wave: string, w: FirstPermitWrite): string {
  const counters = counterParams(w.skippedDelta);
  const v = p.unnest('v', {
    seq: ['int', w.skipped.map((x) => x.seq)],
    reason: ['text', w.skipped.map((x) => x.reason)],
    a: ['bigint', w.skipped.map((x) => x.accountId)],
    l: ['text', w.skipped.map((x) => x.login)],
  });
  return `v AS (SELECT * FROM ${v}),
       members AS (
         UPDATE wave_members m SET state = 'skipped', reason = v.reason, done_at = now(), batch_id = NULL
           FROM v WHERE m.wave_id = ${wave} AND m.seq = v.seq AND EXISTS (SELECT 1 FROM attempt) RETURNING 1),
       ledger AS (
         ${auditRowsSql(
           {
             actor: `'engine'`,
             action: `'member.skipped'`,
             waveId: wave,
             accountId: 'v.a',
             login: 'v.l',
             reason: 'v.reason',
           },
           'FROM v WHERE EXISTS (SELECT 1 FROM attempt)',
         )}
         RETURNING 1),
       counted AS (
         ${countersUpsertSql(`SELECT ${wave}, t.n, t.c FROM unnest(${p.add(counters.names, 'text[]')}, ${p.add(counters.values, 'bigint[]')}) AS t(n, c)
          WHERE EXISTS (SELECT 1 FROM attempt) AND (SELECT count(*) FROM members) + (SELECT count(*) FROM ledger) >= 0`)})`;
}

function checkOf(row: PermitCheckRow): PermitCheck {
  return {
    lockedWave: row.locked_wave,
    waveAsRead: row.wave_as_read,
    attempted: row.attempted,
  };
}
