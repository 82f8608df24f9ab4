import { IMAP_ON, IMAP_SET, POP3_ON, POP3_SET } from './desired-state';
import { badRequest, Problem, type ProblemCode } from './problem';

/**
 * Strict checks of what clients send. A real gateway that accepts sloppy input hides client bugs until
 * the day it meets a stricter one, so unknown fields and wrong types are refused with the contract's codes.
 */

/** Longest login accepted (RFC 5321 path limit, well above any mailbox the providers allow). */
const MAX_ACCOUNT_LENGTH = 320;
const MAX_IDEMPOTENCY_KEY_LENGTH = 255;
const MAX_REASON_LENGTH = 1000;

export interface InvalidField {
  code: ProblemCode;
  detail: string;
}

/** Why `value` is not an acceptable account, or undefined when it is. */
export function accountProblem(value: unknown): string | undefined {
  if (typeof value !== 'string') return 'account must be a string';
  if (value.length === 0) return 'account must not be empty';
  if (value.length > MAX_ACCOUNT_LENGTH) return `account is longer than ${MAX_ACCOUNT_LENGTH} characters`;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return 'account contains a control character';
  }
  if (value.trim() !== value) return 'account has leading or trailing whitespace';
  return undefined;
}

/** The account from a URL path segment (percent-decoded), or a 400 invalid_account. */
export function accountFromPath(segment: string): string | Problem {
  let account: string;
  try {
    account = decodeURIComponent(segment);
  } catch {
    return badRequest('invalid_account', 'account in the path is not valid percent-encoding');
  }
  const problem = accountProblem(account);
  return problem ? badRequest('invalid_account', problem) : account;
}

/** A `protocols` object as a desired mask (see desired-state.ts), or the reason it is refused. */
export function desiredFromProtocols(value: unknown): number | InvalidField {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { code: 'invalid_protocols', detail: 'protocols must be an object such as {"imap":true}' };
  }
  let desired = 0;
  for (const name in value) {
    const wanted = (value as Record<string, unknown>)[name];
    if (name !== 'imap' && name !== 'pop3') {
      return { code: 'unsupported_protocol', detail: `protocol "${name}" is not supported (imap, pop3)` };
    }
    if (typeof wanted !== 'boolean')
      return { code: 'invalid_protocols', detail: `protocols.${name} must be a boolean` };
    desired |= name === 'imap' ? IMAP_SET | (wanted ? IMAP_ON : 0) : POP3_SET | (wanted ? POP3_ON : 0);
  }
  if (desired === 0) return { code: 'invalid_protocols', detail: 'protocols must name at least one protocol' };
  return desired;
}

/**
 * `If-Match`: `*` or a list of entity tags. Only strong tags of the form "<version>" can match (we never
 * send weak ones); anything unparseable is a 400 invalid_if_match rather than a silent mismatch.
 */
export function parseIfMatch(header: string): '*' | number[] | Problem {
  const text = header.trim();
  if (text === '*') return '*';
  const versions: number[] = [];
  for (const part of text.split(',')) {
    const m = /^\s*(W\/)?"(\d{1,10})"\s*$/.exec(part);
    if (!m)
      return badRequest('invalid_if_match', `If-Match must be an ETag such as "7", got ${JSON.stringify(header)}`);
    if (!m[1]) versions.push(Number(m[2]));
  }
  return versions;
}

/** Undefined when the key is acceptable. */
export function idempotencyKeyProblem(key: string): Problem | undefined {
  if (key.length === 0 || key.length > MAX_IDEMPOTENCY_KEY_LENGTH) {
    return badRequest(
      'invalid_idempotency_key',
      `Idempotency-Key must be 1-${MAX_IDEMPOTENCY_KEY_LENGTH} characters (got ${key.length})`,
    );
  }
  return undefined;
}

/** The JSON body of a write; anything but a JSON object is refused. */
export function parseJsonObject(raw: Buffer, contentType: string | undefined): Record<string, unknown> | Problem {
  if (contentType !== undefined && !/^application\/([\w.+-]+\+)?json\s*(;|$)/i.test(contentType)) {
    return badRequest('invalid_request', `Content-Type must be application/json, got "${contentType}"`);
  }
  if (raw.length === 0) return badRequest('invalid_request', 'a JSON body is required');
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch (err) {
    return badRequest('invalid_json', `body is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return badRequest('invalid_request', 'body must be a JSON object');
  }
  return body as Record<string, unknown>;
}

/** The first field of `object` not in `allowed`, if any. */
export function unknownField(object: object, allowed: readonly string[]): string | undefined {
  for (const key in object) if (!allowed.includes(key)) return key;
  return undefined;
}

/** Shared optional fields of PATCH and batch bodies. */
export function writeOptions(body: Record<string, unknown>): { revokeSessions: boolean; reason: string } | Problem {
  const { revokeSessions, reason } = body;
  if (revokeSessions !== undefined && typeof revokeSessions !== 'boolean') {
    return badRequest('invalid_request', 'revokeSessions must be a boolean');
  }
  if (reason !== undefined && (typeof reason !== 'string' || reason.length > MAX_REASON_LENGTH)) {
    return badRequest('invalid_request', `reason must be a string of at most ${MAX_REASON_LENGTH} characters`);
  }
  return { revokeSessions: revokeSessions === true, reason: reason ?? '' };
}

/** JSON with object keys sorted at every level: equal for bodies that differ only in order or spacing. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(record[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
