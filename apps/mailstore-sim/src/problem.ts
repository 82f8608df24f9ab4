/**
 * RFC 9457 problem details with the contract's stable `code` (section 6). Every error the simulator sends
 * is one of these, as `application/problem+json`.
 */

const TITLES = {
  invalid_request: 'Invalid request',
  invalid_json: 'Body is not valid JSON',
  invalid_account: 'Invalid account',
  invalid_protocols: 'Invalid protocols',
  unsupported_protocol: 'Unsupported protocol',
  invalid_if_match: 'Invalid If-Match',
  invalid_idempotency_key: 'Invalid Idempotency-Key',
  unauthorized: 'Unauthorized',
  forbidden: 'Forbidden',
  account_not_found: 'Account not found',
  not_found: 'Not found',
  method_not_allowed: 'Method not allowed',
  idempotency_in_progress: 'A request with this Idempotency-Key is still in progress',
  version_mismatch: 'Version mismatch',
  batch_too_large: 'Batch too large',
  idempotency_key_reused: 'Idempotency-Key reused for a different request',
  rate_limited: 'Too many requests',
  internal: 'Internal error',
  unavailable: 'Service unavailable',
} as const;

export type ProblemCode = keyof typeof TITLES;

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** Problem type URIs: stable identifiers, not meant to be dereferenced (RFC 9457 section 3.1.1). */
const PROBLEM_TYPE_BASE = 'https://mailstore-sim.invalid/problems/';

export class Problem {
  constructor(
    readonly status: number,
    readonly code: ProblemCode,
    readonly detail: string,
    /** Extension members (currentVersion, maxItems, retryAfterSeconds, limit, ...). */
    readonly extensions: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {}

  toJson(): string {
    return JSON.stringify({
      type: PROBLEM_TYPE_BASE + this.code,
      title: TITLES[this.code],
      status: this.status,
      detail: this.detail,
      code: this.code,
      ...this.extensions,
    });
  }
}

/** A 400 with one of the contract's request codes. */
export function badRequest(code: ProblemCode, detail: string): Problem {
  return new Problem(400, code, detail);
}

/** 429 and 503: nothing applied; Retry-After is always an integer >= 1 (contract section 4). */
export function retryLater(
  status: 429 | 503,
  retryAfterSeconds: number,
  detail: string,
  extensions: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Problem {
  const seconds = Math.max(1, Math.ceil(retryAfterSeconds));
  return new Problem(
    status,
    status === 429 ? 'rate_limited' : 'unavailable',
    detail,
    { retryAfterSeconds: seconds, ...extensions },
    { 'retry-after': String(seconds), ...headers },
  );
}
