import { MAX_BODY_BYTES } from './http-io';
import { Problem, retryLater } from './problem';
import type { RateLimitRejection } from './rate-limiter';
import type { FaultKind, Scope } from './sim.types';

/** The answers the /v1 pipeline gives before (or instead of) executing anything. */

const REALM = 'Bearer realm="mailstore-sim"';

export interface Credential {
  token: string;
  scopes: ReadonlySet<Scope>;
}

/** The caller's token and scopes, or 401 (RFC 6750 WWW-Authenticate; invalid_token for unknown ones). */
export function authenticate(
  tokens: ReadonlyMap<string, ReadonlySet<Scope>>,
  authorization: string | undefined,
): Credential | Problem {
  const m = authorization === undefined ? null : /^Bearer +(\S+) *$/i.exec(authorization);
  const token = m ? m[1] : undefined;
  const scopes = token === undefined ? undefined : tokens.get(token);
  if (token !== undefined && scopes !== undefined) return { token, scopes };
  const www = token === undefined ? REALM : `${REALM}, error="invalid_token"`;
  return new Problem(401, 'unauthorized', 'a valid bearer token is required', {}, { 'www-authenticate': www });
}

/** 403 unless the credential holds `scope`. */
export function authorize(credential: Credential, scope: Scope): Problem | undefined {
  if (credential.scopes.has(scope)) return undefined;
  const www = `${REALM}, error="insufficient_scope", scope="${scope}"`;
  return new Problem(403, 'forbidden', `this token lacks the ${scope} scope`, {}, { 'www-authenticate': www });
}

export function rateLimited(over: RateLimitRejection): Problem {
  return retryLater(429, over.retryAfterSeconds, `over the ${over.limit} limit`, { limit: over.limit });
}

/** An injected 429/503/500: the same answers a real limiter, an overloaded gateway or a crash give. */
export function injectedProblem(fault: Extract<FaultKind, '429' | '503' | '500'>, retryAfterSeconds: number): Problem {
  if (fault === '500') return new Problem(500, 'internal', 'injected internal error');
  if (fault === '503') return retryLater(503, retryAfterSeconds, 'temporarily unavailable (injected)');
  return retryLater(429, retryAfterSeconds, 'over the requests limit (injected)', { limit: 'requests' });
}

/** The first request with this key is still running (only with latency or a hang). */
export function inProgress(): Problem {
  return new Problem(
    409,
    'idempotency_in_progress',
    'a request with this Idempotency-Key is still in progress',
    { retryAfterSeconds: 1 },
    { 'retry-after': '1' },
  );
}

export function keyReused(): Problem {
  return new Problem(422, 'idempotency_key_reused', 'this Idempotency-Key was used for a different request');
}

export function batchKeyRequired(): Problem {
  return new Problem(400, 'invalid_request', 'Idempotency-Key is required for batch requests');
}

/** A body over MAX_BODY_BYTES: for a batch that can only mean too many items. */
export function bodyTooLarge(isBatch: boolean, maxBatchItems: number): Problem {
  const detail = `body larger than ${MAX_BODY_BYTES} bytes`;
  return isBatch
    ? new Problem(413, 'batch_too_large', detail, { maxItems: maxBatchItems })
    : new Problem(400, 'invalid_request', detail);
}
