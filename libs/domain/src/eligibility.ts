/**
 * Who may be opened, decided when each batch runs (never when the wave is planned: holds, password changes and
 * support actions between planning and sending must count).
 */

export const PROTOCOLS = ['imap', 'pop3'] as const;
export type Protocol = (typeof PROTOCOLS)[number];

/** The desired state sent to the mailstore: only `true` entries, never toggles, so a replay changes nothing. */
export type DesiredProtocols = { readonly [P in Protocol]?: true };

export interface EligibilityAccount {
  leaked: boolean;
  passwordChangedAt: Date | null;
  held: boolean;
  /** A support override (reason and ticket recorded) lifting `password_reset_required`; see `hasActiveOverride`. */
  overrideActive: boolean;
  /** The service's view of the mailstore state. */
  imap: boolean;
  pop3: boolean;
  /** False once the mailstore answered `account_not_found`; undefined when never asked. */
  knownToMailstore?: boolean;
}

export const SKIP_REASONS = ['held', 'password_reset_required', 'not_found', 'already_enabled'] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];

export type EligibilityDecision =
  { eligible: true; desired: DesiredProtocols } | { eligible: false; reason: SkipReason };

/** A programming error in the caller, not a data problem: waves are validated to have 1–2 distinct protocols. */
function assertProtocols(protocols: readonly Protocol[]): void {
  const distinct = new Set(protocols);
  if (protocols.length === 0 || distinct.size !== protocols.length || ![...distinct].every(isProtocol)) {
    throw new RangeError(
      `protocols must be a non-empty list of distinct 'imap'/'pop3', got ${JSON.stringify(protocols)}`,
    );
  }
}

export function isProtocol(value: unknown): value is Protocol {
  return value === 'imap' || value === 'pop3';
}

/** Leaked and the password not changed strictly after the incident: the attackers may still hold it. */
export function passwordResetRequired(
  account: Pick<EligibilityAccount, 'leaked' | 'passwordChangedAt'>,
  incidentAt: Date,
): boolean {
  return account.leaked && (account.passwordChangedAt === null || account.passwordChangedAt <= incidentAt);
}

/** An override counts only with both a reason and a ticket (blank strings do not). */
export function hasActiveOverride(account: { overrideReason: string | null; overrideTicket: string | null }): boolean {
  return nonBlank(account.overrideReason) && nonBlank(account.overrideTicket);
}

/**
 * The decision for one account in a wave. Precedence, strongest first:
 *  1. held: a support hold beats everything (invariant 6: held accounts are never opened by a wave);
 *  2. password_reset_required: the security reason is the one ops and the audit need to see, even when the
 *     account is also unknown or already enabled;
 *  3. not_found: the mailstore does not know the login, so our view of its protocols means nothing;
 *  4. already_enabled: every requested protocol is already on.
 */
export function decideEligibility(
  account: EligibilityAccount,
  protocols: readonly Protocol[],
  incidentAt: Date,
): EligibilityDecision {
  assertProtocols(protocols);
  if (account.held) return { eligible: false, reason: 'held' };
  if (passwordResetRequired(account, incidentAt) && !account.overrideActive) {
    return { eligible: false, reason: 'password_reset_required' };
  }
  if (account.knownToMailstore === false) return { eligible: false, reason: 'not_found' };
  const desired = desiredFor(account, protocols);
  if (Object.keys(desired).length === 0) return { eligible: false, reason: 'already_enabled' };
  return { eligible: true, desired };
}

/** Only the requested protocols that are off: what we send is what we change, and what rollback restores. */
function desiredFor(account: EligibilityAccount, protocols: readonly Protocol[]): DesiredProtocols {
  const desired: { [P in Protocol]?: true } = {};
  for (const protocol of protocols) if (!account[protocol]) desired[protocol] = true;
  return desired;
}

export interface BatchPartition<T> {
  eligible: { account: T; desired: DesiredProtocols }[];
  skipped: { account: T; reason: SkipReason }[];
  /** Every reason present with 0 when absent, so counters and previews can be written without checks. */
  skipCounts: Record<SkipReason, number>;
}

/** One pass over a batch, order preserved: the eligible items become the mailstore batch, in member order. */
export function partitionBatch<T extends EligibilityAccount>(
  accounts: readonly T[],
  protocols: readonly Protocol[],
  incidentAt: Date,
): BatchPartition<T> {
  const result: BatchPartition<T> = {
    eligible: [],
    skipped: [],
    skipCounts: { held: 0, password_reset_required: 0, not_found: 0, already_enabled: 0 },
  };
  for (const account of accounts) {
    const decision = decideEligibility(account, protocols, incidentAt);
    if (decision.eligible) {
      result.eligible.push({ account, desired: decision.desired });
    } else {
      result.skipped.push({ account, reason: decision.reason });
      result.skipCounts[decision.reason] += 1;
    }
  }
  return result;
}

export interface SupportRequest {
  account: EligibilityAccount;
  /** Defaults to both protocols when the request names none. */
  protocols?: readonly Protocol[];
  reason: string;
  ticket: string;
  incidentAt: Date;
}

/** What a support enable/disable lifts or notes, recorded in the audit entry of the operation. */
export type SupportOverride = 'held' | 'password_reset_required' | 'not_found';

export type SupportDecision =
  | { allowed: true; desired: { readonly [P in Protocol]?: boolean }; overrides: SupportOverride[] }
  | { allowed: false; code: 'reason_required' | 'ticket_required'; field: 'reason' | 'ticket'; message: string };

/**
 * Support enable: a person, a reason and a ticket, one account.
 *
 * Decisions (the brief is silent on some):
 *  - reason and ticket (non-blank) are always required; with them, support may override
 *    `password_reset_required` (the brief's rule) and the override is listed for the audit.
 *  - a hold keeps an account out of waves, not out of support: an explicit enable of a held account is allowed,
 *    listed as overriding `held`, and does NOT lift the hold (waves keep skipping it).
 *  - `not_found` does not block: the service's view may be stale and the mailstore is the authority (it answers
 *    404, recorded as the operation's outcome).
 *  - `already_enabled` does not block either: support sends the full desired state for the requested protocols,
 *    which also repairs drift between our view and the mailstore ("unchanged" counts as success).
 */
export function supportEnableDecision(request: SupportRequest): SupportDecision {
  const refused = requireReasonAndTicket(request);
  if (refused) return refused;
  const protocols = request.protocols ?? PROTOCOLS;
  assertProtocols(protocols);
  const overrides: SupportOverride[] = [];
  if (request.account.held) overrides.push('held');
  if (passwordResetRequired(request.account, request.incidentAt) && !request.account.overrideActive) {
    overrides.push('password_reset_required');
  }
  if (request.account.knownToMailstore === false) overrides.push('not_found');
  return { allowed: true, desired: Object.fromEntries(protocols.map((p) => [p, true])), overrides };
}

/** Support disable ("re-block"): always allowed with a reason and a ticket; closing access is never risky. */
export function supportDisableDecision(request: Omit<SupportRequest, 'incidentAt'>): SupportDecision {
  const refused = requireReasonAndTicket(request);
  if (refused) return refused;
  const protocols = request.protocols ?? PROTOCOLS;
  assertProtocols(protocols);
  return { allowed: true, desired: Object.fromEntries(protocols.map((p) => [p, false])), overrides: [] };
}

function requireReasonAndTicket(request: { reason: string; ticket: string }): SupportDecision | undefined {
  if (!nonBlank(request.reason)) {
    return { allowed: false, code: 'reason_required', field: 'reason', message: 'reason must not be empty' };
  }
  if (!nonBlank(request.ticket)) {
    return { allowed: false, code: 'ticket_required', field: 'ticket', message: 'ticket must not be empty' };
  }
  return undefined;
}

function nonBlank(value: string | null | undefined): boolean {
  return typeof value === 'string' && value.trim().length > 0;
}
