import {
  ACCOUNT_NOT_FOUND,
  assertNever,
  CONFLICT,
  CounterDelta,
  errorCode,
  ForwardOutcome,
  RollbackOutcome,
  rollbackSettleDelta,
  settleDelta,
} from '@app/domain';
import {
  AccessRead,
  BatchItem,
  BatchItemResult,
  holdsAsked,
  OkOutcome,
  Outcome,
  PatchAccessResult,
  ProtocolSwitches,
} from '@app/mailstore';
import { BatchMember } from './batch.types';
import type { Reask } from './rollback-conflicts';

/**
 * What the mailstore's answer about one account means for a wave member: one rule for the batch settle and for
 * support's rollback of a single member (OperationRunner), whose PATCH answer is first put in a batch item's terms.
 */
export type MemberAnswer = Pick<BatchItemResult, 'status' | 'error'>;

/** What one item's answer means for a forward member. */
export function forwardOutcome(r: MemberAnswer): ForwardOutcome {
  switch (r.status) {
    case 'applied':
      return { state: 'enabled' };
    case 'unchanged':
      // The mailstore already had it so (our view was stale): nothing of ours to roll back.
      return { state: 'skipped', reason: 'already_enabled' };
    case 'not_found':
      return { state: 'failed', reason: ACCOUNT_NOT_FOUND };
    case 'conflict':
      return { state: 'failed', reason: CONFLICT };
    case 'invalid':
      return { state: 'failed', reason: errorCode(r.error?.code ?? 'invalid') };
    default:
      return assertNever(r.status, 'item status');
  }
}

/** What one item's answer means for a rollback member. */
export function rollbackOutcome(r: MemberAnswer): RollbackOutcome {
  switch (r.status) {
    case 'applied':
      return { state: 'rolled_back' };
    case 'unchanged':
      return { state: 'unchanged' };
    // ifVersion: somebody (support, another wave) changed the account since; their change is kept.
    case 'conflict':
      return { state: 'conflict' };
    case 'not_found':
      return { state: 'failed', reason: ACCOUNT_NOT_FOUND };
    case 'invalid':
      return { state: 'failed', reason: errorCode(r.error?.code ?? 'invalid') };
    default:
      return assertNever(r.status, 'item status');
  }
}

/**
 * The answer to a batch resent in doubt (an earlier attempt under its key may have written). A mailstore that keeps
 * nothing per key (the native drivers), or that forgot the key, answers it afresh: an item that already holds every
 * protocol as asked holds it, as far as anyone can tell, by our own earlier attempt; even a replay may be of such an
 * afresh answer (the key forgotten after the first attempt, the second's answer stored and lost). Such an item is read
 * as `applied` with no `previous` (the settle keeps the prior state the permit read). Read as `unchanged`, a forward
 * member would be skipped `already_enabled` with its new state as prior, so a rollback would leave it open; read as a
 * `conflict`, a rollback member would be left as somebody else's change while the version moved by our own write.
 * What this cannot tell: an account somebody else put in that very state between the attempts is counted as ours (a
 * rollback then closes it: the safe side after a credential-stuffing incident).
 */
export function ownEarlierWrites(items: readonly BatchItem[], results: readonly BatchItemResult[]): BatchItemResult[] {
  return results.map((r, i) => {
    if (r.status !== 'unchanged' && r.status !== 'conflict') return r;
    if (!holdsAsked(items[i].protocols, r.protocols)) return r;
    return {
      account: r.account,
      status: 'applied',
      protocols: r.protocols,
      version: r.version,
      updatedAt: r.updatedAt,
      sessions: r.sessions,
    };
  });
}

/** A PATCH refused by its `If-Match` (412): resent in doubt, only a read of the account tells whose write moved it. */
export function isVersionMismatch(outcome: Outcome<PatchAccessResult>): boolean {
  return outcome.kind === 'permanent' && outcome.code === 'version_mismatch';
}

/**
 * The answer to one account's PATCH resent in doubt (support's operation run again after a crash, or re-asked after
 * an answer lost), read as ownEarlierWrites reads a batch's: an account that holds every protocol as asked holds it by
 * our own earlier attempt, so the write counts as made (`changed`). `unchanged` carries the state; a 412
 * (`version_mismatch`: our earlier write moved the version our `If-Match` names) does not, so `read` is the account
 * read back after it (isVersionMismatch). Read as answered, support's rollback of a wave member would be recorded a
 * conflict, and the member left as the wave's while the account is closed. What this cannot tell alone: another
 * writer of ours that put the account in that very state between the attempts (the runner asks the record:
 * creditedPatchVersion); somebody outside the service doing so counts as ours.
 */
export function ownEarlierPatch(
  asked: ProtocolSwitches,
  outcome: Outcome<PatchAccessResult>,
  read?: Outcome<AccessRead>,
): Outcome<PatchAccessResult> {
  if (outcome.kind === 'ok') {
    if (outcome.value.changed || !holdsAsked(asked, outcome.value.protocols)) return outcome;
    return { ...outcome, value: { ...outcome.value, changed: true } };
  }
  if (!isVersionMismatch(outcome) || read?.kind !== 'ok' || !holdsAsked(asked, read.value.protocols)) return outcome;
  const { account, protocols, version, updatedAt } = read.value;
  return {
    kind: 'ok',
    status: 200,
    latencyMs: outcome.latencyMs,
    replayed: false,
    value: { account, protocols, version, updatedAt, changed: true },
  };
}

/**
 * The version ownEarlierPatch credited to our earlier attempt: the answer it turned into our write (`unchanged`, or a
 * 412 read back, as asked); null when it turned none. Where versions name writes, the runner then asks whether another
 * writer of ours is recorded to have made that version (othersWrites), as a batch resent in doubt does.
 */
export function creditedPatchVersion(
  answered: Outcome<PatchAccessResult>,
  presumed: Outcome<PatchAccessResult>,
): number | null {
  if (presumed.kind !== 'ok' || !presumed.value.changed) return null;
  return answered.kind === 'ok' && answered.value.changed ? null : presumed.value.version;
}

/** A credited answer (creditedPatchVersion) whose version another writer of ours made: as asked, not by us. */
export function othersPatch(presumed: OkOutcome<PatchAccessResult>): OkOutcome<PatchAccessResult> {
  return { ...presumed, value: { ...presumed.value, changed: false } };
}

/**
 * A single PATCH's outcome as the item a batch would have answered: changed or not, If-Match refused
 * (`412 version_mismatch`: a conflict), unknown login, or any other failure with its code (or its kind when it has
 * none: rate limited, unavailable, in progress after the retries ran out).
 */
export function patchAnswer(outcome: Outcome<PatchAccessResult>): MemberAnswer {
  if (outcome.kind === 'ok') return { status: outcome.value.changed ? 'applied' : 'unchanged' };
  if (outcome.kind === 'permanent' && outcome.code === 'version_mismatch') return { status: 'conflict' };
  if (outcome.kind === 'permanent' && outcome.code === ACCOUNT_NOT_FOUND) return { status: 'not_found' };
  return { status: 'invalid', error: { code: 'code' in outcome ? outcome.code : outcome.kind } };
}

/** What a batch's settle writes for one member: its outcome, and the account's state as the answer tells it. */
export interface SettledItem<O> {
  member: BatchMember;
  outcome: O;
  /** The member's reason (skipped or failed), null otherwise. */
  reason: string | null;
  /** Forward: the exact prior state: the mailstore's `previous`, else what the permit read. */
  priorImap: boolean;
  priorPop3: boolean;
  /**
   * Whether the answer tells the account's state: applied, unchanged, or a conflict (which carries the state that
   * refused our `ifVersion`, so a later wave starts from it), with protocols.
   */
  known: boolean;
  imap: boolean | null;
  pop3: boolean | null;
  version: number | null;
}

/** A batch's answer as the settle writes it, in one statement. */
export interface Settlement<O> {
  items: SettledItem<O>[];
  /** The counters' change. */
  delta: CounterDelta;
  /** How many items came back in each status (the batch row's summary). */
  summary: Record<string, number>;
  /** Forward: members enabled, which a rollback begun meanwhile must restore too (0 for a rollback batch). */
  enabled: number;
}

/** A forward batch's answer, item i for member i. */
export function forwardSettlement(
  members: readonly BatchMember[],
  results: readonly BatchItemResult[],
): Settlement<ForwardOutcome> {
  const outcomes = results.map(forwardOutcome);
  return {
    items: settledItems(members, results, outcomes, (o) => (o.state === 'enabled' ? null : o.reason)),
    delta: settleDelta(outcomes),
    summary: statusSummary(results),
    enabled: outcomes.filter((o) => o.state === 'enabled').length,
  };
}

/** Per item of a rollback settlement: the ifVersion a re-asked member waits at, and how long it waits (else null). */
export interface RollbackAsks {
  askAt: (number | null)[];
  waitMs: (number | null)[];
}

/**
 * A rollback batch's answer, item i for member i; `reasked`, the conflicts judged by rollback-conflicts.ts: their
 * members wait for restoration again, each at its `askAt` ifVersion (null for the others), claimable again after
 * `waitMs` (null: at once).
 */
export function rollbackSettlement(
  members: readonly BatchMember[],
  results: readonly BatchItemResult[],
  reasked: ReadonlyMap<number, Reask> = new Map(),
): Settlement<RollbackOutcome> & RollbackAsks {
  const outcomes = results.map((r, i): RollbackOutcome => reasked.get(i)?.outcome ?? rollbackOutcome(r));
  return {
    items: settledItems(members, results, outcomes, (o) => ('reason' in o ? o.reason : null)),
    delta: rollbackSettleDelta(outcomes),
    summary: statusSummary(results),
    enabled: 0,
    askAt: results.map((_r, i) => reasked.get(i)?.ifVersion ?? null),
    waitMs: results.map((_r, i) => reasked.get(i)?.waitMs ?? null),
  };
}

/** Item statuses whose answer carries the account's current state (contract, section 3). */
const STATE_TELLING: ReadonlySet<BatchItemResult['status']> = new Set(['applied', 'unchanged', 'conflict']);

function settledItems<O>(
  members: readonly BatchMember[],
  results: readonly BatchItemResult[],
  outcomes: readonly O[],
  reason: (o: O) => string | null,
): SettledItem<O>[] {
  return results.map((r, i) => ({
    member: members[i],
    outcome: outcomes[i],
    reason: reason(outcomes[i]),
    priorImap: r.previous?.imap ?? members[i].priorImap,
    priorPop3: r.previous?.pop3 ?? members[i].priorPop3,
    known: STATE_TELLING.has(r.status) && r.protocols !== undefined,
    imap: r.protocols?.imap ?? null,
    pop3: r.protocols?.pop3 ?? null,
    version: r.version ?? null,
  }));
}

function statusSummary(results: readonly BatchItemResult[]): Record<string, number> {
  const summary: Record<string, number> = {};
  for (const r of results) summary[r.status] = (summary[r.status] ?? 0) + 1;
  return summary;
}

/** The contract's codes (§6) by which a refusal of a whole call names the account it carried. */
const ACCOUNT_REFUSALS: ReadonlySet<string> = new Set([ACCOUNT_NOT_FOUND, 'invalid_account']);

/**
 * A permanent refusal of a whole forward batch (any 4xx but 401/403 and a 413 split) as its members' answers, when
 * it is an answer about them: only a batch of one account refused by a code naming an account (404
 * `account_not_found` is that account not found; 400 `invalid_account` is it refused, with the call's status and
 * code cleaned as an item's). Any other refusal is about the call (a gateway's route, our request, a key reused):
 * null, and the wave pauses with the batch kept. Failing the members would end a whole wave as failed on one
 * misrouted path, while the mailstore judged none of its accounts.
 */
export function refusalOfItsAccount(
  members: readonly BatchMember[],
  refusal: { status: number; code: string },
): BatchItemResult[] | null {
  if (members.length !== 1 || !ACCOUNT_REFUSALS.has(refusal.code)) return null;
  const account = members[0].login;
  if (refusal.code === ACCOUNT_NOT_FOUND) return [{ account, status: 'not_found' }];
  return [{ account, status: 'invalid', error: { code: `http_${refusal.status}_${refusal.code}` } }];
}
