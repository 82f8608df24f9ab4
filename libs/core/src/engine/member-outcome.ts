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
import { BatchItem, BatchItemResult, Outcome, PatchAccessResult } from '@app/mailstore';
import { BatchMember } from './batch.types';

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
    const now = r.protocols;
    const asked = Object.entries(items[i].protocols) as [keyof NonNullable<typeof now>, boolean | undefined][];
    if (!now || !asked.every(([p, v]) => v === undefined || now[p] === v)) return r;
    return {
      account: r.account,
      status: 'applied',
      protocols: now,
      version: r.version,
      updatedAt: r.updatedAt,
      sessions: r.sessions,
    };
  });
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

/** A rollback batch's answer, item i for member i. */
export function rollbackSettlement(
  members: readonly BatchMember[],
  results: readonly BatchItemResult[],
): Settlement<RollbackOutcome> {
  const outcomes = results.map(rollbackOutcome);
  return {
    items: settledItems(members, results, outcomes, (o) => (o.state === 'failed' ? o.reason : null)),
    delta: rollbackSettleDelta(outcomes),
    summary: statusSummary(results),
    enabled: 0,
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

/**
 * A permanent refusal of the whole batch (any 4xx but 401/403) as every member's answer: invalid, with the call's
 * status and code (cleaned by errorCode, as every code an item carries).
 */
export function refusedResults(
  members: readonly BatchMember[],
  refusal: { status: number; code: string },
): BatchItemResult[] {
  const code = `http_${refusal.status}_${refusal.code}`;
  return members.map((m) => ({ account: m.login, status: 'invalid' as const, error: { code } }));
}
