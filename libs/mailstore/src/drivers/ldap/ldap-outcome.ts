import { ResultCodeError } from 'ldapts';
import { retryable, type FailureOutcome } from '../../outcome';
import { PoolClosedError } from './ldap-pool';

/** How far a call got when it failed: decides `outcomeUnknown` (a write may have been applied). */
export interface FailurePhase {
  /** At least one modify was written to the directory and its answer is not known. */
  wrote: boolean;
  /** The caller's signal fired or the driver was destroyed (shutdown): every failure is `aborted`. */
  aborted: boolean;
  latencyMs: number;
}

/** Node's (OpenSSL's) codes for a certificate it does not trust: self-signed, unknown issuer, expired, wrong host. */
const TLS_TRUST_ERRORS =
  /^(?:DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_(?:VERIFY_LEAF_SIGNATURE|GET_ISSUER_CERT(?:_LOCALLY)?)|CERT_(?:HAS_EXPIRED|NOT_YET_VALID|UNTRUSTED|REJECTED)|ERR_TLS_CERT_ALTNAME_INVALID)$/;

/** How long to wait after the directory said busy/unavailable (it sends no Retry-After). */
const BUSY_RETRY_AFTER_MS = 1_000;

/**
 * A thrown LDAP or socket error as the engine's outcome. Never carries the bind password: ldapts' messages hold
 * result codes, message types and socket errors, and the bind DN at most.
 */
export function failureOutcome(err: unknown, phase: FailurePhase): FailureOutcome {
  const { wrote, latencyMs } = phase;
  if (phase.aborted || err instanceof PoolClosedError) {
    return retryable('aborted', undefined, wrote, 'aborted, or the LDAP driver was closed', latencyMs);
  }
  if (err instanceof ResultCodeError) return resultCodeOutcome(err, phase);
  const e = err as { code?: unknown; message?: unknown };
  const message = typeof e.message === 'string' ? e.message.split('\n')[0] : String(err);
  if (e.code === 'ECONNREFUSED') return retryable('connection_refused', undefined, false, message, latencyMs);
  // The directory's certificate does not chain to a trusted CA, has expired or names another host: a configuration
  // (or an interception) no retry mends. Stop and alert, as for a 401/403; nothing was sent past the handshake.
  if (typeof e.code === 'string' && TLS_TRUST_ERRORS.test(e.code)) {
    return { kind: 'permanent', status: 403, code: 'tls_untrusted', detail: `TLS: ${message}`, latencyMs };
  }
  if (message === 'Connection timeout') return retryable('timeout', undefined, false, message, latencyMs);
  if (/timed out/i.test(message)) return retryable('timeout', undefined, wrote, message, latencyMs);
  return retryable('connection_reset', undefined, wrote, message, latencyMs);
}

function resultCodeOutcome(err: ResultCodeError, phase: FailurePhase): FailureOutcome {
  const { latencyMs, wrote } = phase;
  const detail = `LDAP result ${err.code}: ${err.message}`;
  switch (err.code) {
    // invalidCredentials, inappropriateAuthentication, confidentialityRequired, strongAuthRequired: the service
    // DN cannot bind. Stop and alert, as for a 401.
    case 49:
    case 48:
    case 13:
    case 8:
      return { kind: 'permanent', status: 401, code: 'unauthorized', detail, latencyMs };
    // insufficientAccessRights on a read: the service DN may not read the accounts (a write is per item).
    case 50:
      return { kind: 'permanent', status: 403, code: 'forbidden', detail, latencyMs };
    // noSuchObject on a search: the base DN does not exist (a typo, a directory restored empty). Not a million missing
    // accounts, nor a refusal of these items: 403 stops every wave and pauses it, as the SQL drivers' schema_mismatch
    // (a 404 failed each batch's members in turn, and a rollback's failed members stay open).
    case 32:
      return { kind: 'permanent', status: 403, code: 'base_dn_not_found', detail, latencyMs };
    // busy, unavailable, unwillingToPerform (a read-only replica, a server in maintenance), timeLimitExceeded,
    // adminLimitExceeded: the directory applied nothing.
    case 51:
    case 52:
    case 53:
    case 3:
    case 11:
      return wrote
        ? retryable('upstream_error', undefined, true, detail, latencyMs)
        : { kind: 'unavailable', status: 503, retryAfterMs: BUSY_RETRY_AFTER_MS, latencyMs };
    default:
      return retryable('upstream_error', undefined, wrote, detail, latencyMs);
  }
}

/** Result codes of a modify that concern this entry only: the item is `invalid`, the batch goes on. */
export function itemErrorCode(err: unknown): string | undefined {
  if (!(err instanceof ResultCodeError)) return undefined;
  switch (err.code) {
    case 50:
      return 'forbidden';
    case 16: // noSuchAttribute
    case 17: // undefinedAttributeType
    case 19: // constraintViolation
    case 20: // attributeOrValueExists
    case 21: // invalidAttributeSyntax
    case 65: // objectClassViolation
      return 'schema_violation';
    default:
      return undefined;
  }
}
