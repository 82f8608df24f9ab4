import { FieldError } from '@app/domain';

/**
 * Domain errors with a stable code; the API maps each to an application/problem+json answer
 * (404, 409, 400/422) naming the field at fault. Anything else is a bug (500).
 */
export class DomainError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export class NotFoundError extends DomainError {
  constructor(what: string, id: string) {
    super(`${what}_not_found`, `no ${what} ${id}`, 404, { [what]: id });
  }
}

export class IllegalTransitionError extends DomainError {
  constructor(currentState: string, command: string, allowed: string[], detail: string) {
    super('illegal_transition', detail, 409, { currentState, command, allowed });
  }
}

export class ValidationError extends DomainError {
  constructor(readonly errors: FieldError[]) {
    super('validation_failed', errors.map((e) => e.message).join('; '), 400, { errors });
  }
}

export class ConflictError extends DomainError {
  constructor(code: string, message: string, extra: Record<string, unknown> = {}) {
    super(code, message, 409, extra);
  }
}
