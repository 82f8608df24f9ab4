import {
  decideEligibility,
  hasActiveOverride,
  Protocol,
  redecidedBatchKeySql,
  settleDelta,
  SkipReason,
} from '@app/domain';
import { BatchLostError, BatchMember, ClaimedBatch } from './batch.types';
import { auditRowsSql } from '../db/audit-log';
import { Sql } from '../db/sql';
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
 * granted before it has passed its deadline (`waitForSendPermits`): never on a worker, at most the send window.
 */

/** What a permit attempt gave. `busy`: a row it needs is being changed right now (retry shortly). */
export type PermitResult = 'granted' | 'stopped' | 'busy' | 'changed' | 'nothing_to_send';

/** The first permit's wave check, read without a lock (see lockedOutcome). */
const WAVE_AS_READ = `(SELECT generation = $2 AND state = 'running' FROM waves WHERE id = $1) AS wave_as_read`;

/**
 * A row a permit locks FOR SHARE SKIP LOCKED (never waiting, never failing) either came back, or was skipped: then
 * the same condition read without a lock tells why. Still true: a command or a change holds the row right now
 * (`busy`, ask again shortly). False: the condition no longer holds (`stopped`).
 */
function lockedOutcome(locked: boolean, asRead: boolean | null): 'locked' | 'busy' | 'stopped' {
  if (locked) return 'locked';
  return asRead ? 'busy' : 'stopped';
}

interface PermitTimes {
  /** The lease after the permit: it must outlast the call and its settle. */
  leaseMs: number;
  /** The send window: the call starts within this long of the statement's start, or not at all. */
  windowMs: number;
}

/** What a permit decides eligibility on: a member's account as read, with the eligibility epoch of that read. */
export interface EligibilityRow {
  seq: number;
  account_id: string;
  login: string;
  leaked: boolean;
  password_changed_at: Date | null;
  held: boolean;
  override_reason: string | null;
  override_ticket: string | null;
  override_expires_at: Date | null;
  imap_enabled: boolean;
  pop3_enabled: boolean;
  mailstore_version: number | null;
  epoch: string;
}

/**
 * The columns of an EligibilityRow, over `m` (wave_members) joined with `a` (accounts), read in one statement (one
 * snapshot with the epoch). The claim returns them too, so the first permit right after it needs no read of its own.
 */
export const ELIGIBILITY_COLUMNS = `a.id AS account_id, a.login, a.leaked, a.password_changed_at, a.held,
            a.override_reason, a.override_ticket, a.override_expires_at, a.imap_enabled, a.pop3_enabled, a.mailstore_version,
            (SELECT epoch FROM eligibility_epoch WHERE id = 1) AS epoch`;

/**
 * The first attempt of a forward batch, or a later one when no attempt before it may have applied anything (429,
 * 503, a failure before the request left; the key then changes with the body): reads its members' accounts (or
 * takes the claim's read), decides eligibility, and in one statement
 * takes the permit, records the prior state of the eligible members (the request is built from it, now and on
 * every retry: on the batch row) and ends the others as skipped with their reason (ledger rows and counters
 * included). On success
 * `batch.members` is the eligible ones, with their prior state; `nothing_to_send` when none is eligible (the batch
 * is closed). Throws BatchLostError when the batch is no longer this worker's.
 */
export async function permitFirstForward(
  sql: Sql,
  batch: ClaimedBatch,
  wave: { protocols: Protocol[]; generation: number },
  incidentAt: Date,
  times: PermitTimes,
  /** The members' accounts as the claim read them (no read here); the epoch check makes them safe to use. */
  read?: readonly EligibilityRow[],
): Promise<PermitResult> {
  const rows =
    read ??
    (await sql<EligibilityRow>(
      `SELECT m.seq, ${ELIGIBILITY_COLUMNS}
         FROM wave_members m JOIN accounts a ON a.id = m.account_id
        WHERE m.wave_id = $1 AND m.seq = ANY($2::int[])
        ORDER BY m.seq`,
      [batch.waveId, batch.members.map((m) => m.seq)],
    ));
  const eligible: BatchMember[] = [];
  const reasons: (SkipReason | null)[] = [];
  // The latest instant the call may start (the send window): an override must still be live then.
  const callBy = new Date(Date.now() + times.windowMs);
  for (const row of rows) {
    const decision = decideEligibility(
      {
        leaked: row.leaked,
        passwordChangedAt: row.password_changed_at,
        held: row.held,
        overrideActive: hasActiveOverride(
          {
            overrideReason: row.override_reason,
            overrideTicket: row.override_ticket,
            overrideExpiresAt: row.override_expires_at,
          },
          callBy,
        ),
        imap: row.imap_enabled,
        pop3: row.pop3_enabled,
      },
      wave.protocols,
      incidentAt,
    );
    reasons.push(decision.eligible ? null : decision.reason);
    if (decision.eligible) {
      eligible.push({
        seq: row.seq,
        accountId: Number(row.account_id),
        login: row.login,
        priorImap: row.imap_enabled,
        priorPop3: row.pop3_enabled,
        version: row.mailstore_version,
      });
    }
  }
  const skippedRows = rows.flatMap((row, k) => {
    const reason = reasons[k];
    return reason === null ? [] : [{ row, reason }];
  });
  const counters = counterParams(settleDelta(skippedRows.map(({ reason }) => ({ state: 'skipped' as const, reason }))));
  const result = await sql<{
    locked_wave: boolean;
    locked_epoch: boolean;
    wave_as_read: boolean;
    epoch_as_read: boolean;
    attempted: boolean;
    key: string | null;
  }>(
    `WITH w AS (SELECT 1 FROM waves WHERE id = $1 AND generation = $2 AND state = 'running' FOR SHARE SKIP LOCKED),
       seen AS (SELECT 1 FROM eligibility_epoch WHERE id = 1 AND epoch = $3 FOR SHARE SKIP LOCKED),
       go AS (SELECT EXISTS (SELECT 1 FROM w) AND EXISTS (SELECT 1 FROM seen) AS ok),
       attempt AS (
         UPDATE wave_batches
            SET attempts = attempts + CASE WHEN $4::int > 0 THEN 1 ELSE 0 END, size = $4,
                state = CASE WHEN $4::int > 0 THEN 'claimed' ELSE 'done' END,
                completed_at = CASE WHEN $4::int > 0 THEN NULL ELSE now() END,
                lease_until = now() + ($5 || ' milliseconds')::interval,
                send_deadline = CASE WHEN $4::int > 0 THEN now() + ($6 || ' milliseconds')::interval END,
                priors = $9::jsonb, in_doubt = $4::int > 0,
                -- decided again after attempts that applied nothing: a new body, so a new key
                idempotency_key = CASE WHEN attempts > 0 THEN ${redecidedBatchKeySql('idempotency_key', 'attempts')}
                                       ELSE idempotency_key END
          WHERE id = $7 AND state = 'claimed' AND lease_gen = $8 AND (attempts = 0 OR NOT in_doubt) AND (SELECT ok FROM go)
          RETURNING id, idempotency_key),
       -- Only the skipped members are written here (the eligible ones stay in flight; their prior state is on the
       -- batch row, and the settle writes it to each of them).
       v AS (SELECT * FROM unnest($10::int[], $11::text[], $12::bigint[], $13::text[]) AS v(seq, reason, a, l)),
       members AS (
         UPDATE wave_members m SET state = 'skipped', reason = v.reason, done_at = now(), batch_id = NULL
           FROM v WHERE m.wave_id = $1 AND m.seq = v.seq AND EXISTS (SELECT 1 FROM attempt) RETURNING 1),
       ledger AS (
         ${auditRowsSql(
           {
             actor: `'engine'`,
             action: `'member.skipped'`,
             waveId: '$1',
             accountId: 'v.a',
             login: 'v.l',
             reason: 'v.reason',
           },
           'FROM v WHERE EXISTS (SELECT 1 FROM attempt)',
         )}
         RETURNING 1),
       counted AS (
         ${countersUpsertSql(`SELECT $1, t.n, t.c FROM unnest($14::text[], $15::bigint[]) AS t(n, c)
          -- the other writes first: the hot counter rows are locked last, until the commit
          WHERE EXISTS (SELECT 1 FROM attempt) AND (SELECT count(*) FROM members) + (SELECT count(*) FROM ledger) >= 0`)})
       SELECT EXISTS (SELECT 1 FROM w) AS locked_wave, EXISTS (SELECT 1 FROM seen) AS locked_epoch,
              ${WAVE_AS_READ}, (SELECT epoch = $3 FROM eligibility_epoch WHERE id = 1) AS epoch_as_read,
              EXISTS (SELECT 1 FROM attempt) AS attempted, (SELECT idempotency_key FROM attempt) AS key`,
    [
      batch.waveId,
      wave.generation,
      rows[0]?.epoch ?? '-1',
      eligible.length,
      String(times.leaseMs),
      String(times.windowMs),
      batch.id,
      batch.fence,
      JSON.stringify(eligible.map((m) => [m.seq, m.priorImap, m.priorPop3, m.version])),
      skippedRows.map((x) => x.row.seq),
      skippedRows.map((x) => x.reason),
      skippedRows.map((x) => x.row.account_id),
      skippedRows.map((x) => x.row.login),
      counters.names,
      counters.values,
    ],
  );
  const [row] = result;
  const wave_ = lockedOutcome(row.locked_wave, row.wave_as_read);
  if (wave_ !== 'locked') return wave_;
  const epoch = lockedOutcome(row.locked_epoch, row.epoch_as_read);
  if (epoch !== 'locked') return epoch === 'stopped' ? 'changed' : 'busy';
  if (!row.attempted) throw new BatchLostError(batch.id);
  batch.members = eligible;
  batch.idempotencyKey = row.key ?? batch.idempotencyKey;
  if (!eligible.length) return 'nothing_to_send';
  batch.attempts++;
  batch.inDoubt = true;
  return 'granted';
}

/**
 * Any other attempt (a forward retry, which must resend the recorded body unchanged, or a rollback batch): the
 * wave allows the call and the batch is still ours; the attempt is counted and the permit's deadline set.
 */
export async function permitAttempt(
  sql: Sql,
  batch: ClaimedBatch,
  wave: { generation: number; allowedStates: readonly string[] },
  times: PermitTimes,
): Promise<Exclude<PermitResult, 'changed' | 'nothing_to_send'>> {
  const [row] = await sql<{ locked_wave: boolean; wave_as_read: boolean; attempted: boolean }>(
    `WITH w AS (SELECT 1 FROM waves WHERE id = $1 AND generation = $2 AND state = ANY($3::text[]) FOR SHARE SKIP LOCKED),
       attempt AS (
         UPDATE wave_batches SET attempts = attempts + 1, lease_until = now() + ($4 || ' milliseconds')::interval,
                send_deadline = now() + ($5 || ' milliseconds')::interval, in_doubt = true
          WHERE id = $6 AND state = 'claimed' AND lease_gen = $7 AND EXISTS (SELECT 1 FROM w)
          RETURNING id)
       SELECT EXISTS (SELECT 1 FROM w) AS locked_wave,
              (SELECT generation = $2 AND state = ANY($3::text[]) FROM waves WHERE id = $1) AS wave_as_read,
              EXISTS (SELECT 1 FROM attempt) AS attempted`,
    [
      batch.waveId,
      wave.generation,
      wave.allowedStates,
      String(times.leaseMs),
      String(times.windowMs),
      batch.id,
      batch.fence,
    ],
  );
  const outcome = lockedOutcome(row.locked_wave, row.wave_as_read);
  if (outcome !== 'locked') return outcome;
  if (!row.attempted) throw new BatchLostError(batch.id);
  batch.attempts++;
  batch.inDoubt = true;
  return 'granted';
}

/**
 * The worker missed its send window (it was stopped or starved between the permit and the call): the call was
 * never started, so the attempt is taken back and the batch decided again at its next permit. Fenced: if the
 * batch was taken over meanwhile, nothing changes (the new owner resends it under the same key).
 */
export async function withdrawAttempt(sql: Sql, batch: ClaimedBatch, inDoubtBefore: boolean): Promise<void> {
  const rows = await sql(
    `UPDATE wave_batches SET attempts = attempts - 1, send_deadline = NULL, in_doubt = $3
      WHERE id = $1 AND state = 'claimed' AND lease_gen = $2 AND attempts > 0 RETURNING id`,
    [batch.id, batch.fence, inDoubtBefore],
  );
  if (!rows.length) throw new BatchLostError(batch.id);
  batch.attempts--;
  batch.inDoubt = inDoubtBefore;
}

/**
 * Marks a change that can make accounts ineligible (a hold, an import that marks accounts leaked), in the caller's
 * transaction: every permit decided on the accounts as they were before is refused from now on, and permits
 * being decided wait for the commit (busy). Call it last in the transaction: it is held until the commit.
 */
export async function bumpEligibilityEpoch(sql: Sql): Promise<void> {
  await sql(`UPDATE eligibility_epoch SET epoch = epoch + 1 WHERE id = 1`);
}

/** Whose outstanding send permits a command waits for. */
export type PermitScope = { waveId: string } | { accountId: number } | 'forward';

/**
 * How long until the last send permit granted so far in `scope` has passed its deadline (0 when none is open).
 * Called by a command after its commit: no permit can be granted in its scope from then on, so once this has
 * elapsed no call that the command forbids can start.
 */
export async function openPermitsMs(sql: Sql, scope: PermitScope): Promise<number> {
  const remaining = `GREATEST(0, EXTRACT(EPOCH FROM max(b.send_deadline) - clock_timestamp()) * 1000)::float8 AS ms`;
  const open = `b.state = 'claimed' AND b.send_deadline > clock_timestamp()`;
  const [row] =
    scope === 'forward'
      ? await sql<{ ms: number | null }>(`SELECT ${remaining} FROM wave_batches b WHERE b.kind = 'forward' AND ${open}`)
      : 'waveId' in scope
        ? await sql<{ ms: number | null }>(`SELECT ${remaining} FROM wave_batches b WHERE b.wave_id = $1 AND ${open}`, [
            scope.waveId,
          ])
        : await sql<{ ms: number | null }>(
            `SELECT ${remaining} FROM wave_members m JOIN wave_batches b ON b.id = m.batch_id
              WHERE m.account_id = $1 AND m.state = 'in_flight' AND ${open}`,
            [scope.accountId],
          );
  return Math.ceil(Number(row?.ms ?? 0));
}

/** Waits until no send permit granted before now in `scope` can still start a call (at most one send window). */
export async function waitForSendPermits(sql: Sql, scope: PermitScope): Promise<void> {
  const ms = await openPermitsMs(sql, scope);
  if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms));
}
