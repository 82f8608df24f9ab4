/**
 * What the logs (and the traces' attributes) must never carry, in one place (docs/observability.md, "Redaction"):
 * secrets, keys and tokens wherever they travel (headers, query strings, bodies, error messages), and logins in full.
 * An operator reads a masked login (`a***@example.test`); the audit log keeps the full record.
 */

export const CENSOR = '[REDACTED]';

/**
 * Field names whose values are secrets wherever they appear in a line's fields (compared in lower case): body fields,
 * a subscription's secret, the service's own secret settings, and the credential headers (the API takes
 * `Authorization: Bearer`; `x-api-key` and cookies are never its own but are kept out all the same).
 */
const SECRET_KEYS = new Set(
  [
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
    'bindPassword',
    'authorization',
    'proxy-authorization',
    'cookie',
    'set-cookie',
    'x-api-key',
  ].map((k) => k.toLowerCase()),
);

/**
 * A setting's name that says it holds a secret: the service's and each mailstore driver's (MAILSTORE_TOKEN,
 * DOVEADM_API_KEY, LDAP_BIND_PASSWORD, and those of a driver added later) by the one naming rule, not a list to keep.
 */
const SECRET_SETTING = /^[A-Z][A-Z0-9_]*_(?:PASSWORD|TOKEN|API_KEY|SECRET)$/;

const isSecretKey = (key: string) => SECRET_KEYS.has(key.toLowerCase()) || SECRET_SETTING.test(key);

/**
 * pino's `redact` paths, for what is not a secret by its name but by where it sits: TypeORM's QueryFailedError carries
 * the statement's parameters (logins, hashes, subscription secrets). Explicit paths only: @pinojs/redact's wildcard
 * paths cost ~6–10× a line's own cost (docs/observability.md), so secret field names are found by
 * scrubFields' walk instead.
 */
export const REDACT_PATHS: string[] = ['err.parameters', 'err.driverError.parameters', 'error.parameters'];

/** How deep scrubFields looks into a line's fields (`req.body.subscription.secret` is depth 4). */
const MAX_DEPTH = 5;

/**
 * A line's fields with every secret-named key's value censored and every string through redactText, at any depth up to
 * MAX_DEPTH. The same object when nothing changed (no copy on the common path); errors are left to the err
 * serializer.
 */
export function scrubFields(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactText(value);
  if (value === null || typeof value !== 'object' || value instanceof Error || depth >= MAX_DEPTH) return value;
  if (Array.isArray(value)) {
    const items = value as unknown[];
    let copy: unknown[] | undefined;
    items.forEach((v, i) => {
      const clean = scrubFields(v, depth + 1);
      if (clean !== v) (copy ??= [...items])[i] = clean;
    });
    return copy ?? items;
  }
  if (Object.getPrototypeOf(value) !== Object.prototype && Object.getPrototypeOf(value) !== null) return value;
  let copy: Record<string, unknown> | undefined;
  for (const [key, v] of Object.entries(value)) {
    const clean = isSecretKey(key) && v !== undefined && v !== null ? CENSOR : scrubFields(v, depth + 1);
    if (clean !== v) (copy ??= { ...(value as Record<string, unknown>) })[key] = clean;
  }
  return copy ?? value;
}

/** A query parameter whose value is a credential, by its name (`key`, `token`, `api_key`, `sig`, `X-Amz-Signature`…). */
const SECRET_PARAM =
  /(?:^|[-_.])(?:key|apikey|token|secret|password|passwd|pwd|pass|auth|authorization|sig|signature|session|code|credential|credentials)$|(?:token|secret|password|signature|apikey|api_key)/i;

/** What every pattern of redactText needs somewhere in the text (one cheap test first). */
const MAYBE_SECRET = /[@=]|bearer|basic|token|rk_/i;

const EMAIL = /([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})/g;
const HAS_EMAIL = /[A-Za-z0-9._%+-]@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/;

/** `alice@example.test` → `a***@example.test`; any other login → its first character and `***`. */
export function maskLogin(login: string): string {
  const at = login.lastIndexOf('@');
  if (at > 0) return `${login[0]}***${login.slice(at)}`;
  return login.length <= 1 ? '***' : `${login[0]}***`;
}

/** The API's routes whose next segment is a login (docs/openapi.json): `/accounts/{login}…`, `/overrides/{login}`. */
const LOGIN_PARENTS = new Set(['accounts', 'overrides']);

/**
 * Path segments that are logins (`/accounts/{login}/…`, `/overrides/{login}`) masked, e-mail addresses anywhere in the path masked, and no
 * query string: the URL a request log line or a span may show.
 */
export function sanitizePath(url: string): string {
  const q = url.search(/[?#]/);
  const path = q === -1 ? url : url.slice(0, q);
  return path
    .split('/')
    .map((segment, i, all) => {
      const decoded = safeDecode(segment);
      const isLogin = i > 0 && LOGIN_PARENTS.has(all[i - 1]) && decoded !== 'import' && decoded !== '';
      if (isLogin || decoded.includes('@'))
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
  if (!MAYBE_SECRET.test(text)) return text; // most lines: nothing to look at, no replace pass

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
