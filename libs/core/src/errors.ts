import { FieldError } from '@app/domain';

/**
 * What kind of refusal a domain error is, in the domain's words. The API turns a kind into an HTTP status in one
 * place (apps/api/src/common/problem-mapping.ts); nothing here knows about HTTP.
 */
export type DomainErrorKind =
  /** The input breaks a rule; `extra.errors` names each field at fault. */
  | 'invalid'
  /** What the command names does not exist. */
  | 'not_found'
  /** The command contradicts the current state (a transition not allowed now, nothing left to do). */
  | 'conflict'
  /** The input passes a size limit. */
  | 'too_large'
  /** The caller may not do this, whatever the state (approving their own request). */
  | 'forbidden';

/**
 * Domain errors with a stable code and a kind; the API maps each to an application/problem+json answer naming the
 * field at fault. Anything else is a bug (500).
 */
export class DomainError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly kind: DomainErrorKind,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export class NotFoundError extends DomainError {
  constructor(what: string, id: string) {
    super(`${what}_not_found`, `no ${what} ${id}`, 'not_found', { [what]: id });
  }
}

export class IllegalTransitionError extends DomainError {
  constructor(currentState: string, command: string, allowed: string[], detail: string) {
    super('illegal_transition', detail, 'conflict', { currentState, command, allowed });
  }
}

export class ValidationError extends DomainError {
  constructor(readonly errors: FieldError[]) {
    super('validation_failed', errors.map((e) => e.message).join('; '), 'invalid', { errors });
  }
}

export class ConflictError extends DomainError {
  constructor(code: string, message: string, extra: Record<string, unknown> = {}) {
    super(code, message, 'conflict', extra);
  }
}

/**
 * The command needs a second ops key (docs/approvals.md): nothing of it was done; the approval request it made (or the
 * open one it matches) is committed and named, for another ops key to approve. Once approved, the same command runs.
 */
export class ApprovalRequiredError extends DomainError {
  constructor(request: { approvalId: string; rule: string; command: string; waveId: string | null; expiresAt: Date }) {
    super(
      'approval_required',
      `${request.command} needs the approval of a second ops key (rule ${request.rule}): ` +
        `POST /api/v1/approvals/${request.approvalId}/approve with another ops key, then send the command again`,
      'conflict',
      { ...request },
    );
  }
}
