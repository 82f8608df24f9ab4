/**
 * What the logs (and the traces' attributes) must never carry, in one place (docs/observability.md, "Redaction"):
 * secrets, keys and tokens wherever they travel (headers, query strings, bodies, error messages), and logins in full.
 * An operator reads a masked login (`a***@example.test`); the audit log keeps the full record.
 */

export const CENSOR = '[REDACTED]';

/** Keys whose values are secrets wherever they appear: pino's `redact` paths below are built from them. */
const SECRET_KEYS = [
  'password',
  'newPassword',
  'secret',
  'secretKey',
  'clientSecret',
  'signingSecret',
  'token',
  'accessToken',
  'refreshToken',
  'apiKey',
  'authorization',
  'cookie',
  'MAILSTORE_TOKEN',
  'DOVEADM_API_KEY',
] as const;

/** Request and response headers that carry credentials (the API takes `Authorization: Bearer`). */
const SECRET_HEADERS = ['authorization', 'cookie', 'set-cookie', 'x-api-key', 'proxy-authorization'];

/**
 * pino's `redact` paths (@pinojs/redact: no deep wildcard, so each depth is named): the secret keys at the top of a
 * line and one or two levels below (`body.password`, `subscription.secret`, `req.body.password`), and the credential
 * headers of a request or response logged whole.
 */
export const REDACT_PATHS: string[] = [
  ...SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]),
  ...['req', 'res', 'request', 'response', ''].flatMap((owner) =>
    SECRET_HEADERS.map((h) => `${owner ? `${owner}.` : ''}headers["${h}"]`),
  ),
  // TypeORM's QueryFailedError carries the statement's parameters: logins, hashes, subscription secrets.
  'err.parameters',
  'err.driverError.parameters',
];

/** A query parameter whose value is a credential, by its name (`key`, `token`, `api_key`, `sig`, `X-Amz-Signature`…). */
const SECRET_PARAM =
  /(?:^|[-_.])(?:key|apikey|token|secret|password|passwd|pwd|pass|auth|authorization|sig|signature|session|code|credential|credentials)$|(?:token|secret|password|signature|apikey|api_key)/i;

const EMAIL = /([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})/g;
const HAS_EMAIL = /[A-Za-z0-9._%+-]@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/;

/** `alice@example.test` → `a***@example.test`; any other login → its first character and `***`. */
export function maskLogin(login: string): string {
  const at = login.lastIndexOf('@');
  if (at > 0) return `${login[0]}***${login.slice(at)}`;
  return login.length <= 1 ? '***' : `${login[0]}***`;
}

/**
 * Path segments that are logins (`/accounts/{login}/…`) masked, e-mail addresses anywhere in the path masked, and no
 * query string: the URL a request log line or a span may show.
 */
export function sanitizePath(url: string): string {
  const q = url.search(/[?#]/);
  const path = q === -1 ? url : url.slice(0, q);
  return path
    .split('/')
    .map((segment, i, all) => {
      const decoded = safeDecode(segment);
      const afterAccounts = i > 0 && all[i - 1] === 'accounts' && decoded !== 'import' && decoded !== '';
      if (afterAccounts || decoded.includes('@'))
        return encodeURIComponent(maskLogin(decoded)).replace(/%2A/g, '*').replace(/%40/g, '@');
      return segment;
    })
    .join('/');
}

/**
 * A URL with its credentials removed: user:password@ before the host, the values of secret-looking query parameters,
 * and logins in the path and in the other parameters' values masked. For URLs that must keep their query (a mailstore
 * address, an exporter endpoint); the request log keeps the path only (sanitizePath).
 */
export function sanitizeUrl(url: string): string {
  const hash = url.indexOf('#');
  const noHash = hash === -1 ? url : url.slice(0, hash);
  const q = noHash.indexOf('?');
  const base = (q === -1 ? noHash : noHash.slice(0, q)).replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/i, `$1${CENSOR}@`);
  const origin = /^[a-z][a-z0-9+.-]*:\/\/[^/]*/i.exec(base)?.[0] ?? '';
  const path = sanitizePath(base.slice(origin.length));
  if (q === -1) return origin + path;
  const query = noHash
    .slice(q + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      if (eq === -1) return pair;
      const name = safeDecode(pair.slice(0, eq));
      const value = safeDecode(pair.slice(eq + 1));
      if (SECRET_PARAM.test(name)) return `${pair.slice(0, eq)}=${CENSOR}`;
      return HAS_EMAIL.test(value) ? `${pair.slice(0, eq)}=${encodeURIComponent(redactText(value))}` : pair;
    })
    .join('&');
  return `${origin}${path}?${query}`;
}

/**
 * Free text (a message, an error's message or stack, a driver's detail) with what the patterns above recognise
 * removed: `Bearer <token>`, user:password@ in URLs, secret query parameters, the service's API keys (their public
 * prefix `rk_ops_1a2b3c` kept), and e-mail addresses masked.
 */
export function redactText(text: string): string {
  if (text.length === 0) return text;
  return text
    .replace(/\b(Bearer|Basic|Token)\s+[^\s"',;]+/gi, `$1 ${CENSOR}`)
    .replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^/@\s"']*:[^/@\s"']*@/gi, `$1${CENSOR}@`)
    .replace(/([?&;](?:[^=&\s"'#]*))=([^&\s"'#]*)/g, (all: string, name: string) =>
      SECRET_PARAM.test(safeDecode(name.slice(1))) ? `${name}=${CENSOR}` : all,
    )
    .replace(/\b(rk_[a-z]+_[0-9a-f]{6})_[A-Za-z0-9_-]+/g, `$1_${CENSOR}`)
    .replace(EMAIL, (_all, first: string, domain: string) => `${first}***@${domain}`);
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}
