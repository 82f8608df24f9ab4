/**
 * An HTTP-layer refusal with a stable code (auth, media type, size limits): it names its own status, which a domain
 * error never does (the domain says what went wrong, problem-mapping.ts picks the status).
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
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
