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
  /** A live support override (explicitly asked for, not expired) lifting `password_reset_required`: `hasActiveOverride`. */
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

/** SUPPORT_OVERRIDE_TTL_S's default: 72 hours, the span of the reopening's waves. */
export const DEFAULT_OVERRIDE_TTL_S = 72 * 3600;

/** What an account records of a support override of `password_reset_required`. */
export interface OverrideRecord {
  overrideReason: string | null;
  overrideTicket: string | null;
  /** Overrides expire (SUPPORT_OVERRIDE_TTL_S); null: none on file. */
  overrideExpiresAt: Date | null;
}

/**
 * An override counts only with a reason and a ticket (blank strings do not) and until it expires. `at` is the latest
 * instant the caller's decision may act: a wave permit passes the end of its send window, so an override that expires
 * before the call could start is already over.
 */
export function hasActiveOverride(account: OverrideRecord, at: Date): boolean {
  return (
    nonBlank(account.overrideReason) &&
    nonBlank(account.overrideTicket) &&
    account.overrideExpiresAt !== null &&
    account.overrideExpiresAt.getTime() > at.getTime()
  );
}

/** An account as stored (the accounts row, named as its entity names it): what eligibility is decided on. */
export interface AccountRecord extends OverrideRecord {
  leaked: boolean;
  passwordChangedAt: Date | null;
  held: boolean;
  imapEnabled: boolean;
  pop3Enabled: boolean;
}

/** What decideEligibility reads of a stored account, its override judged at `at` (see hasActiveOverride). */
export function eligibilityAccount(account: AccountRecord, at: Date): EligibilityAccount {
  return {
    leaked: account.leaked,
    passwordChangedAt: account.passwordChangedAt,
    held: account.held,
    overrideActive: hasActiveOverride(account, at),
    imap: account.imapEnabled,
    pop3: account.pop3Enabled,
  };
}

/**
 * The tests of the reasons to hold an account back, strongest first (the order of SKIP_REASONS):
 *  1. held: a support hold beats everything (invariant 6: held accounts are never opened by a wave);
 *  2. password_reset_required: the security reason is the one ops and the audit need to see, even when the
 *     account is also unknown or already enabled;
 *  3. not_found: the mailstore does not know the login, so our view of its protocols means nothing;
 *  4. already_enabled: every requested protocol is already on.
 * SKIP_SQL below states the same tests over an accounts row, for the counts that must stay one statement.
 */
const SKIP_TESTS: {
  readonly [R in SkipReason]: (
    account: EligibilityAccount,
    protocols: readonly Protocol[],
    incidentAt: Date,
  ) => boolean;
} = {
  held: (a) => a.held,
  password_reset_required: (a, _protocols, incidentAt) => passwordResetRequired(a, incidentAt) && !a.overrideActive,
  not_found: (a) => a.knownToMailstore === false,
  already_enabled: (a, protocols) => protocols.every((p) => a[p]),
};

/** The decision for one account in a wave: the first reason of SKIP_REASONS whose test holds, else eligible. */
export function decideEligibility(
  account: EligibilityAccount,
  protocols: readonly Protocol[],
  incidentAt: Date,
): EligibilityDecision {
  assertProtocols(protocols);
  for (const reason of SKIP_REASONS) {
    if (SKIP_TESTS[reason](account, protocols, incidentAt)) return { eligible: false, reason };
  }
  return { eligible: true, desired: desiredFor(account, protocols) };
}

/*
 * decideEligibility in SQL, over an `accounts` row aliased `a`: for the counts that must stay one statement over a
 * million rows (the wave preview), where a per-account decision in TypeScript would read every row. Same reasons,
 * same precedence (SKIP_REASONS), same predicates; wave-preview.int-spec.ts pins the preview's counts to
 * decideEligibility account by account over the synthetic population.
 */

/** The SQL of decideEligibility's inputs that are not columns of `a`: parameters or expressions. */
export interface EligibilitySqlInputs {
  /** The incident instant. */
  incidentAt: string;
  /** The instant an override must outlive to count (hasActiveOverride's `at`), e.g. `now()`. */
  overrideAt: string;
}

/** The outcome an eligibility count groups by: a skip reason, or eligible. */
export type EligibilityOutcome = SkipReason | 'eligible';

const PROTOCOL_COLUMNS: { readonly [P in Protocol]: string } = { imap: 'a.imap_enabled', pop3: 'a.pop3_enabled' };

/** SQL: some protocol of `protocols` is off on `a` (a wave has something to change). */
export function protocolsOffSql(protocols: readonly Protocol[]): string {
  assertProtocols(protocols);
  return `(${protocols.map((p) => `NOT ${PROTOCOL_COLUMNS[p]}`).join(' OR ')})`;
}

/** SQL of passwordResetRequired. */
export function passwordResetRequiredSql(incidentAt: string): string {
  return `(a.leaked AND (a.password_changed_at IS NULL OR a.password_changed_at <= ${incidentAt}))`;
}

/** SQL: `a` is held back as `password_reset_required` (leaked, not reset since the incident, no live override). */
export function resetHoldSql(inputs: EligibilitySqlInputs): string {
  return `(${passwordResetRequiredSql(inputs.incidentAt)} AND NOT ${activeOverrideSql(inputs.overrideAt)})`;
}

/** SQL of hasActiveOverride (never NULL: an override without an expiry is not live). */
export function activeOverrideSql(at: string): string {
  const nonBlank = (column: string) => `btrim(COALESCE(${column}, '')) <> ''`;
  return `(${nonBlank('a.override_reason')} AND ${nonBlank('a.override_ticket')} AND COALESCE(a.override_expires_at > ${at}, false))`;
}

/** Each reason's test in SQL; null where the accounts row cannot tell (only a call's answer says not_found). */
const SKIP_SQL: {
  readonly [R in SkipReason]: (protocols: readonly Protocol[], inputs: EligibilitySqlInputs) => string | null;
} = {
  held: () => 'a.held',
  password_reset_required: (_protocols, inputs) => resetHoldSql(inputs),
  not_found: () => null,
  already_enabled: (protocols) => `NOT ${protocolsOffSql(protocols)}`,
};

/** SQL: decideEligibility's outcome for `a` (an EligibilityOutcome), its mailstore existence unknown. */
export function eligibilityOutcomeSql(protocols: readonly Protocol[], inputs: EligibilitySqlInputs): string {
  assertProtocols(protocols);
  const whens = SKIP_REASONS.flatMap((reason) => {
    const test = SKIP_SQL[reason](protocols, inputs);
    return test === null ? [] : [`WHEN ${test} THEN '${reason}'`];
  });
  return `CASE ${whens.join(' ')} ELSE 'eligible' END`;
}

/** Only the requested protocols that are off: what we send is what we change, and what rollback restores. */
function desiredFor(account: EligibilityAccount, protocols: readonly Protocol[]): DesiredProtocols {
  const desired: { [P in Protocol]?: true } = {};
  for (const protocol of protocols) if (!account[protocol]) desired[protocol] = true;
  return desired;
}

export interface SupportRequest {
  account: EligibilityAccount;
  /** Defaults to both protocols when the request names none. */
  protocols?: readonly Protocol[];
  reason: string;
  ticket: string;
  incidentAt: Date;
  /** The request's explicit consent to open an account that a wave would hold back (`held`, `password_reset_required`). */
  override?: boolean;
}

/** What a support enable lifts (`held`, `password_reset_required`: only with `override`) or notes (`not_found`). */
export type SupportOverride = 'held' | 'password_reset_required' | 'not_found';

export type SupportRefusal = 'reason_required' | 'ticket_required' | 'override_required';

export type SupportDecision =
  | {
      allowed: true;
      desired: { readonly [P in Protocol]?: boolean };
      overrides: SupportOverride[];
      /** Record (or renew) an override of `password_reset_required` on the account: later waves include it too. */
      recordOverride: boolean;
    }
  | { allowed: false; code: SupportRefusal; field: 'reason' | 'ticket' | 'override'; message: string };

/**
 * Support enable: a person, a reason and a ticket, one account.
 *
 * Decisions (the brief is silent on some):
 *  - reason and ticket (non-blank) are always required.
 *  - opening an account that a wave would hold back needs the request's explicit `override: true`; without it the
 *    enable is refused (`override_required`), so no enable overrides a hold by accident:
 *    - `password_reset_required` (leaked, never reset, no live override): the override is recorded on the account
 *      with the reason and ticket and an expiry, so later waves include the account too until it expires, is
 *      revoked by ops, or support disables or holds the account;
 *    - `held` (a support hold): the account is opened now but the hold is NOT lifted (waves keep skipping it).
 *  - an `override: true` on a leaked, never-reset account with a live override renews it (new reason, ticket, expiry).
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
  const { account } = request;
  const resetRequired = passwordResetRequired(account, request.incidentAt);
  const holds: SupportOverride[] = [];
  if (account.held) holds.push('held');
  if (resetRequired && !account.overrideActive) holds.push('password_reset_required');
  if (holds.length > 0 && request.override !== true) {
    return {
      allowed: false,
      code: 'override_required',
      field: 'override',
      message: `the account is held back (${holds.join(', ')}): set override to true to open it anyway`,
    };
  }
  const overrides = [...holds];
  if (account.knownToMailstore === false) overrides.push('not_found');
  return {
    allowed: true,
    desired: Object.fromEntries(protocols.map((p) => [p, true])),
    overrides,
    recordOverride: resetRequired && request.override === true,
  };
}

/** Support disable ("re-block"): always allowed with a reason and a ticket; closing access is never risky. */
export function supportDisableDecision(request: Omit<SupportRequest, 'incidentAt'>): SupportDecision {
  const refused = requireReasonAndTicket(request);
  if (refused) return refused;
  const protocols = request.protocols ?? PROTOCOLS;
  assertProtocols(protocols);
  return {
    allowed: true,
    desired: Object.fromEntries(protocols.map((p) => [p, false])),
    overrides: [],
    recordOverride: false,
  };
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
