import {
  CounterDelta,
  EligibilityAccount,
  isProtocol,
  Protocol,
  rollbackClaimDelta,
  SupportDecision,
  supportDisableDecision,
  supportEnableDecision,
  SupportRequest,
} from '@app/domain';
import { AccountEntity, OperationEntity, OperationKind } from '@app/db';
import { FailureOutcome, PatchAccessRequest, PatchOptions } from '@app/mailstore';
import { ConflictError, DomainError, ValidationError } from '../errors';
import type { RestorableMember } from './member-rollback.repository';

/*
 * The support lane's decisions that are not the domain's eligibility (libs/domain/src/eligibility.ts decides who
 * support may open): the shape of a request, which error a refusal answers with, what a rollback of one account
 * restores, and how an operation becomes a PATCH and its outcome a record. Pure; support-rules.spec.ts.
 */

/** The protocols a support change applies to (both when it names none); refuses a malformed request field by field. */
export function requestedProtocols(
  kind: 'enable' | 'disable',
  input: { protocols?: Protocol[]; override?: boolean },
): Protocol[] {
  const protocols = input.protocols ?? ['imap', 'pop3'];
  if (input.override !== undefined && (kind !== 'enable' || typeof input.override !== 'boolean')) {
    throw new ValidationError([
      { field: 'override', message: 'override must be true or false, and only on an enable' },
    ]);
  }
  if (
    !Array.isArray(protocols) ||
    !protocols.length ||
    !protocols.every(isProtocol) ||
    new Set(protocols).size !== protocols.length
  ) {
    throw new ValidationError([
      { field: 'protocols', message: "protocols must be a non-empty list of distinct 'imap', 'pop3'" },
    ]);
  }
  return protocols;
}

/**
 * The domain's decision on a support enable or disable (libs/domain's supportEnableDecision and
 * supportDisableDecision, on the account as read under its lock); a refusal is thrown as its answer.
 */
export function decideSupportChange(
  kind: 'enable' | 'disable',
  request: SupportRequest & { account: EligibilityAccount; protocols: Protocol[] },
  login: string,
): Extract<SupportDecision, { allowed: true }> {
  const decision = kind === 'enable' ? supportEnableDecision(request) : supportDisableDecision(request);
  if (!decision.allowed) throw refusal(decision, login);
  return decision;
}

/** What a refused support decision answers: 409 when only the explicit override is missing, else 422 on its field. */
export function refusal(decision: Extract<SupportDecision, { allowed: false }>, login: string): DomainError {
  const error = { field: decision.field, message: decision.message };
  if (decision.code === 'override_required') {
    return new ConflictError(decision.code, decision.message, { login, errors: [error] });
  }
  return new ValidationError([error]);
}

/** An override recorded on the account, live or expired (ending it clears the record either way). */
export function hasOverrideOnFile(
  account: Pick<AccountEntity, 'overrideExpiresAt' | 'overrideReason' | 'overrideTicket'>,
): boolean {
  return account.overrideExpiresAt !== null || account.overrideReason !== null || account.overrideTicket !== null;
}

/**
 * The member a support rollback restores and the protocols it closes: those the member's wave turned on. Refused
 * (409 nothing_to_roll_back) when no wave change is left, or the wave changed none of the account's protocols.
 */
export function rollbackTarget<M extends Pick<RestorableMember, 'protocols' | 'prior_imap' | 'prior_pop3'>>(
  member: M | undefined,
  login: string,
): { member: M; opened: Protocol[] } {
  if (!member) {
    throw new ConflictError('nothing_to_roll_back', `no wave change on ${login} is left to roll back`, { login });
  }
  const opened = member.protocols.filter((p) => (p === 'imap' ? !member.prior_imap : !member.prior_pop3));
  if (!opened.length) {
    throw new ConflictError('nothing_to_roll_back', `the wave did not change ${login}'s protocols`, { login });
  }
  return { member, opened };
}

/**
 * The counters of a member support takes to restore. Once its wave's rollback has begun, the member is already
 * counted as pending there: support takes it ahead of the pumps (pending → in flight) instead of counting it twice.
 */
export function supportRollbackDelta(waveRollingBack: boolean): CounterDelta {
  return waveRollingBack ? rollbackClaimDelta(1) : { 'rollback:total': 1, 'rollback:in_flight': 1 };
}

/** The one PATCH an operation sends, the same on every retry (its own idempotency key). */
export function operationPatch(
  op: Pick<OperationEntity, 'id' | 'kind' | 'protocols' | 'reason' | 'ticket' | 'idempotencyKey' | 'ifVersion'>,
): { request: PatchAccessRequest; options: PatchOptions } {
  return {
    request: {
      protocols: Object.fromEntries(op.protocols.map((p) => [p, op.kind === 'enable'])),
      revokeSessions: op.kind !== 'enable',
      reason: `support ${op.ticket}: ${op.reason}`.slice(0, 200),
    },
    options: {
      idempotencyKey: op.idempotencyKey,
      requestId: `op-${op.id}`,
      // Rollback: never clobber a later change (If-Match on the version our wave's change produced).
      ...(op.kind === 'rollback' && op.ifVersion !== null ? { ifMatch: op.ifVersion } : {}),
    },
  };
}

/** A failed operation's record: its outcome (the code, or the kind when it has none) and the error as stored. */
export function operationFailure(outcome: FailureOutcome): { outcome: string; error: Record<string, unknown> } {
  return {
    outcome: 'code' in outcome ? outcome.code : outcome.kind,
    error: {
      kind: outcome.kind,
      ...('code' in outcome ? { code: outcome.code } : {}),
      ...('status' in outcome ? { status: outcome.status } : {}),
    },
  };
}

/** The audit action of an operation's step: requested, done (`support.enabled`, `support.rolled_back`…), failed, reasked. */
export function operationAction(kind: OperationKind, step: 'requested' | 'done' | 'failed' | 'reasked'): string {
  if (step === 'done') return kind === 'rollback' ? 'support.rolled_back' : `support.${kind}d`;
  return `support.${kind}_${step}`;
}
