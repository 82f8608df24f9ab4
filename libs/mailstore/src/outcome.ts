import { retryAfterMsFrom } from './retry-after';
import type { Problem } from './response-guards';

/**
 * What one HTTP attempt came to. The client never throws for HTTP or network failures: it returns one of
 * these, and the engine switches on `kind`.
 */
export type Outcome<T> = OkOutcome<T> | FailureOutcome;
export type FailureOutcome =
  RateLimitedOutcome | UnavailableOutcome | InProgressOutcome | RetryableOutcome | PermanentOutcome;

export interface OkOutcome<T> {
  kind: 'ok';
  status: number;
  value: T;
  latencyMs: number;
  /** `Idempotent-Replayed: true`: the stored answer to an earlier attempt with the same key. */
  replayed: boolean;
}

export type RateLimitKind = 'requests' | 'account-updates';

/** 429: nothing was applied; wait `retryAfterMs`, retry with the same key. */
export interface RateLimitedOutcome {
  kind: 'rate_limited';
  status: 429;
  retryAfterMs: number;
  limit?: RateLimitKind;
  latencyMs: number;
}

/** 503 (overload, maintenance, upstream throttle): nothing was applied; wait `retryAfterMs`, same key. */
export interface UnavailableOutcome {
  kind: 'unavailable';
  status: 503;
  retryAfterMs: number;
  latencyMs: number;
}

/** 409 idempotency_in_progress: an earlier attempt with this key is still running; wait, same key. */
export interface InProgressOutcome {
  kind: 'in_progress';
  status: 409;
  retryAfterMs: number;
  latencyMs: number;
}

export type RetryableCode =
  | 'internal'
  | 'upstream_error'
  | 'upstream_timeout'
  | 'timeout'
  | 'connection_reset'
  | 'connection_refused'
  | 'protocol_error'
  /** The caller's AbortSignal fired (shutdown, deadline): not retried by withRetries. */
  | 'aborted'
  /** The request was not written before the caller's `sendBy` (it never left): not retried by withRetries. */
  | 'send_window_missed';

/** Retry with backoff and the same key. */
export interface RetryableOutcome {
  kind: 'retryable';
  status?: 500 | 502 | 504;
  code: RetryableCode;
  /**
   * True when a write may have been applied (500, 504, timeouts and resets after sending, malformed
   * success bodies): the retry MUST reuse the key, and an `unchanged` answer may be our own earlier write.
   * Always false for reads, and for failures before the request left (refused, connect timeout).
   */
  outcomeUnknown: boolean;
  detail?: string;
  latencyMs: number;
}

/** Never retried unchanged: 4xx (401/403 included: stop and alert), and unexpected statuses. */
export interface PermanentOutcome {
  kind: 'permanent';
  status: number;
  /** The problem+json `code` (see CONTRACT_ERROR_CODES), or a status default when the body has none. */
  code: string;
  detail?: string;
  /** 412 version_mismatch. */
  currentVersion?: number;
  /** 413 batch_too_large. */
  maxItems?: number;
  latencyMs: number;
}

/** Section 6 of the contract. */
export const CONTRACT_ERROR_CODES = [
  'invalid_request',
  'invalid_json',
  'invalid_account',
  'invalid_protocols',
  'unsupported_protocol',
  'invalid_if_match',
  'invalid_idempotency_key',
  'unauthorized',
  'forbidden',
  'account_not_found',
  'method_not_allowed',
  'idempotency_in_progress',
  'version_mismatch',
  'batch_too_large',
  'idempotency_key_reused',
  'rate_limited',
  'internal',
  'upstream_error',
  'upstream_timeout',
  'unavailable',
] as const;
export type ContractErrorCode = (typeof CONTRACT_ERROR_CODES)[number];

/**
 * Used when a 4xx carries no problem code. A bare 404 becomes `not_found`, not `account_not_found`: a wrong
 * base URL must not look like a million missing accounts.
 */
const DEFAULT_CODE_BY_STATUS: Record<number, string> = {
  400: 'invalid_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  412: 'version_mismatch',
  413: 'batch_too_large',
  422: 'idempotency_key_reused',
};

export interface ErrorResponse {
  status: number;
  /** Raw `Retry-After` header. */
  retryAfter: string | string[] | undefined;
  /** The problem+json body, already checked (empty when the body was absent or not a problem). */
  problem: Problem;
  /** PATCH/POST/DELETE: decides `outcomeUnknown`. */
  isWrite: boolean;
  latencyMs: number;
  nowMs?: number;
}

/** Maps a non-2xx response onto an outcome (pure; the table in outcome.spec.ts covers section 6). */
export function outcomeFromResponse(res: ErrorResponse): FailureOutcome {
  const { status, problem, latencyMs } = res;
  const retryAfterMs = () => retryAfterMsFrom(res.retryAfter, problem.retryAfterSeconds, res.nowMs);
  switch (status) {
    case 429:
      return { kind: 'rate_limited', status, retryAfterMs: retryAfterMs(), limit: problem.limit, latencyMs };
    case 503:
      return { kind: 'unavailable', status, retryAfterMs: retryAfterMs(), latencyMs };
    case 500:
      // The one top-level failure after which items may have been applied (contract §3).
      return retryable('internal', status, res.isWrite, problem.detail, latencyMs);
    case 502:
      return retryable('upstream_error', status, false, problem.detail, latencyMs);
    case 504:
      // The contract says nothing was applied; a gateway whose upstream timed out cannot know that, so a
      // write is reported as unknown (cost of being wrong: one verification read).
      return retryable('upstream_timeout', status, res.isWrite, problem.detail, latencyMs);
    case 409:
      if (problem.code === undefined || problem.code === 'idempotency_in_progress') {
        return { kind: 'in_progress', status, retryAfterMs: retryAfterMs(), latencyMs };
      }
      break;
  }
  const code =
    problem.code ?? DEFAULT_CODE_BY_STATUS[status] ?? (status >= 400 ? `http_${status}` : 'unexpected_status');
  const out: PermanentOutcome = { kind: 'permanent', status, code, latencyMs };
  if (problem.detail !== undefined) out.detail = problem.detail;
  if (problem.currentVersion !== undefined) out.currentVersion = problem.currentVersion;
  if (problem.maxItems !== undefined) out.maxItems = problem.maxItems;
  return out;
}

export function retryable(
  code: RetryableCode,
  status: 500 | 502 | 504 | undefined,
  outcomeUnknown: boolean,
  detail: string | undefined,
  latencyMs: number,
): RetryableOutcome {
  const out: RetryableOutcome = { kind: 'retryable', code, outcomeUnknown, latencyMs };
  if (status !== undefined) out.status = status;
  if (detail !== undefined) out.detail = detail;
  return out;
}
