import { FieldError, FieldErrors } from './validation';

/**
 * Login events from the mail server (issue 19): what one event says, and the rules that turn many of them into the
 * numbers a gate reads. Dovecot (2.3.7+) exports `auth_request_finished` events over HTTP (`event_exporter` with
 * `transport = http-post`, `format = json`), one event per POST:
 *
 *   {"event":"auth_request_finished","end_time":"2026-12-06T11:36:22.761649Z","categories":["service:auth","auth"],
 *    "fields":{"service":"imap","user":"alice@example.org","remote_ip":"203.0.113.9","session":"q7XGhPVh5Mx/AAAB",
 *              "success":"yes", …}}
 *
 * Measured on Debian's Dovecot 2.3.19: a failed login carries NO `success` field (only a success says `"yes"`), so
 * the exporter's filter for failures is `event=auth_request_finished AND NOT success=yes`; an event that two metrics
 * of one exporter match is posted twice (dropped here as a duplicate by its session and end time).
 */

export const LOGIN_SERVICES = ['imap', 'pop3'] as const;
export type LoginService = (typeof LOGIN_SERVICES)[number];

export interface LoginEvent {
  /** The passdb's name for the account (the event's `user`), lower-cased (accounts.login is stored lower-case). */
  login: string;
  service: LoginService;
  success: boolean;
  /**
   * The client's address: `remote_ip`, which a trusted proxy or webmail (login_trusted_networks, HAProxy) sets to the
   * client it forwards, where `real_remote_ip` stays the proxy's own; null when the server did not say.
   */
  remoteIp: string | null;
  /** When the login finished (staleness only: counts and the stream use its arrival, LoginIngestService.count). */
  at: Date;
  /** Session and end time: the same event posted twice has the same key. */
  key: string;
}

/** Why an event was dropped: counted per reason, never an error that makes the server retry. */
export type LoginEventDrop = 'malformed' | 'not_a_login' | 'other_service' | 'stale';

const MAX_LOGIN = 320;
const IP = /^[0-9A-Fa-f:.]{2,45}$/;

/**
 * Reads one exported event. Anything unexpected is dropped with its reason, never thrown: the server must not retry
 * an event the service cannot use. Events older than `maxAgeMs` (a server that queued them for long) or in the
 * future by more than `maxSkewMs` are `stale`.
 */
export function readLoginEvent(
  input: unknown,
  now: Date,
  limits: { maxAgeMs: number; maxSkewMs: number },
): LoginEvent | LoginEventDrop {
  if (!isRecord(input)) return 'malformed';
  if (input.event !== 'auth_request_finished') return typeof input.event === 'string' ? 'not_a_login' : 'malformed';
  const fields = input.fields;
  if (!isRecord(fields)) return 'malformed';
  // The passdb's name for the account (`user`: after auth_default_realm, auth_username_format and the passdb's own
  // `user` field), which is the login the service's drivers write; not what the client typed (`original_user`: `ann`
  // where the passdb and the accounts know `ann@example.test`). Measured on Dovecot 2.3.19.
  const user = typeof fields.user === 'string' ? fields.user : fields.original_user;
  if (typeof user !== 'string' || user.length === 0 || user.length > MAX_LOGIN) return 'malformed';
  const service = fields.service;
  if (typeof service !== 'string') return 'malformed';
  if (!(LOGIN_SERVICES as readonly string[]).includes(service)) return 'other_service';
  const at = readTime(input.end_time);
  if (!at) return 'malformed';
  if (at.getTime() < now.getTime() - limits.maxAgeMs || at.getTime() > now.getTime() + limits.maxSkewMs) {
    return 'stale';
  }
  const ip = [fields.remote_ip, fields.real_remote_ip].find((v): v is string => typeof v === 'string' && IP.test(v));
  const session = typeof fields.session === 'string' ? fields.session.slice(0, 64) : '';
  return {
    login: user.toLowerCase(),
    service: service as LoginService,
    success: fields.success === 'yes' || fields.success === true,
    remoteIp: ip ?? null,
    at,
    key: `${session}|${String(input.end_time)}`,
  };
}

/** `end_time` as RFC 3339 (`format_args = time-rfc3339`) or seconds since the epoch (`time-unix`). */
function readTime(value: unknown): Date | null {
  if (typeof value === 'number' && Number.isFinite(value)) return new Date(value * 1000);
  if (typeof value !== 'string' || value.length > 40) return null;
  const at = new Date(value);
  return Number.isNaN(at.getTime()) ? null : at;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Counts are kept per bucket of this many seconds: a gate's window is a whole number of them. */
export const LOGIN_BUCKET_SECONDS = 10;

/** The bucket an instant falls in (its start). */
export function loginBucket(at: Date): Date {
  const ms = LOGIN_BUCKET_SECONDS * 1000;
  return new Date(Math.floor(at.getTime() / ms) * ms);
}

/** Logins over a window, for one wave's accounts (or the population) in one cohort (or all). */
export interface LoginWindow {
  failed: number;
  succeeded: number;
  windowSeconds: number;
}

export function failuresPerMinute(w: LoginWindow): number {
  return (w.failed * 60) / w.windowSeconds;
}

/** Failed logins among all: a credential-stuffing burst is mostly failures; users mistyping are a few percent. */
export function failureRatio(w: LoginWindow): number | null {
  const total = w.failed + w.succeeded;
  return total === 0 ? null : w.failed / total;
}

/**
 * The per-account reaction (a wave's `reclose`): an account the wave reopened that then sees `failures` failed logins
 * from at least `distinctIps` addresses within `windowSeconds` is closed again at once (both protocols, through the
 * support lane), whatever the wave's gates say.
 */
export interface ReclosePolicy {
  failures: number;
  distinctIps: number;
  windowSeconds: number;
}

/** What one account saw over its policy's window. */
export interface FailuresSeen {
  failures: number;
  distinctIps: number;
}

export function shouldReclose(seen: FailuresSeen, policy: ReclosePolicy): boolean {
  return seen.failures >= policy.failures && seen.distinctIps >= policy.distinctIps;
}

/** The reason recorded on the support operation that closes such an account again. */
export const RECLOSE_REASON = 'suspected_credential_stuffing';

/** Field errors of a wave's `reclose` (absent or null: no reaction). */
export function validateReclose(input: unknown, path = 'reclose'): FieldError[] {
  const f = new FieldErrors();
  if (input === undefined || input === null) return f.errors;
  if (typeof input !== 'object' || Array.isArray(input)) {
    f.add(path, 'must be an object {failures, distinctIps, windowSeconds}');
    return f.errors;
  }
  const p = input as Partial<ReclosePolicy>;
  f.integerIn(`${path}.failures`, p.failures, 1, 10_000);
  f.integerIn(`${path}.distinctIps`, p.distinctIps, 1, 10_000);
  if (f.integerIn(`${path}.windowSeconds`, p.windowSeconds, LOGIN_BUCKET_SECONDS, 86_400)) {
    if (p.windowSeconds % LOGIN_BUCKET_SECONDS !== 0) {
      f.add(`${path}.windowSeconds`, `must be a multiple of ${LOGIN_BUCKET_SECONDS}`);
    }
  }
  for (const key of Object.keys(p)) {
    if (!['failures', 'distinctIps', 'windowSeconds'].includes(key)) f.add(`${path}.${key}`, 'is not a known field');
  }
  return f.errors;
}
