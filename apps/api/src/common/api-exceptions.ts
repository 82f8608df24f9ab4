import { DomainError } from '@app/core';

/** An HTTP-layer refusal with a stable code (auth, media type, size limits): mapped like any DomainError. */
export class ApiError extends DomainError {
  constructor(status: number, code: string, message: string, extra: Record<string, unknown> = {}) {
    super(code, message, status, extra);
    this.name = 'ApiError';
  }
}

export const unauthorized = (message: string) => new ApiError(401, 'unauthorized', message);
export const forbidden = (message: string, extra: Record<string, unknown> = {}) =>
  new ApiError(403, 'forbidden', message, extra);
export const invalidParameter = (field: string, message: string) =>
  new ApiError(400, 'validation_failed', `${field} ${message}`, {
    field,
    errors: [{ field, message: `${field} ${message}` }],
  });
