import { ACCOUNT_NOT_FOUND, assertNever, CONFLICT, errorCode, ForwardOutcome, RollbackOutcome } from '@app/domain';
import { BatchItemResult, Outcome, PatchAccessResult } from '@app/mailstore';

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
