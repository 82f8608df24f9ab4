import type { MailstoreClientOptions } from './mailstore.types';

export interface ResolvedClientOptions {
  baseUrl: URL;
  token: string;
  connections: number;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  maxResponseBytes: number;
  userAgent: string;
}

const CLIENT_DEFAULTS = {
  connections: 16,
  connectTimeoutMs: 2_000,
  requestTimeoutMs: 10_000,
  maxResponseBytes: 4 * 1024 * 1024,
  userAgent: 'reopen-access-mailstore-client/1',
} as const;

/** Fails at construction (boot), not on the first call: a bad option is a deployment bug. */
export function validateClientOptions(options: MailstoreClientOptions): ResolvedClientOptions {
  let baseUrl: URL;
  try {
    baseUrl = new URL(options.baseUrl);
  } catch {
    throw new TypeError(`MailstoreClient: baseUrl is not a URL: ${options.baseUrl}`);
  }
  if (!/^https?:$/.test(baseUrl.protocol) || !/\/v1\/?$/.test(baseUrl.pathname) || baseUrl.search || baseUrl.hash) {
    throw new TypeError(`MailstoreClient: baseUrl must be an http(s) URL ending in /v1: ${options.baseUrl}`);
  }
  if (typeof options.token !== 'string' || options.token.length === 0 || /[\r\n]/.test(options.token)) {
    throw new TypeError('MailstoreClient: token must be a non-empty single-line string');
  }
  const resolved: ResolvedClientOptions = {
    baseUrl,
    token: options.token,
    connections: options.connections ?? CLIENT_DEFAULTS.connections,
    connectTimeoutMs: options.connectTimeoutMs ?? CLIENT_DEFAULTS.connectTimeoutMs,
    requestTimeoutMs: options.requestTimeoutMs ?? CLIENT_DEFAULTS.requestTimeoutMs,
    maxResponseBytes: options.maxResponseBytes ?? CLIENT_DEFAULTS.maxResponseBytes,
    userAgent: options.userAgent ?? CLIENT_DEFAULTS.userAgent,
  };
  for (const key of ['connections', 'connectTimeoutMs', 'requestTimeoutMs', 'maxResponseBytes'] as const) {
    if (!Number.isSafeInteger(resolved[key]) || resolved[key] < 1) {
      throw new TypeError(`MailstoreClient: ${key} must be a positive integer`);
    }
  }
  return resolved;
}

/** Contract §5: ≤ 255 characters, one per logical operation. Missing or malformed is a caller bug. */
export function validateIdempotencyKey(key: string | undefined): string {
  if (typeof key !== 'string' || !/^[\x21-\x7e](?:[\x20-\x7e]{0,253}[\x21-\x7e])?$/.test(key)) {
    throw new TypeError(
      'MailstoreClient: idempotencyKey must be 1-255 printable ASCII characters (required on writes)',
    );
  }
  return key;
}
