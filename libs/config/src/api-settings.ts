import { isIP } from 'node:net';
import { ValidateBy } from 'class-validator';
import { ConfigError, IntegerFrom, readSettings } from './settings';

/**
 * The API's own limits, from API_* variables (defaults suit production), validated at boot like the
 * shared environment: a bad value stops the process and is named.
 */
export class ApiSettings {
  /** Requests per minute per API key (shared by every API process through Redis). */
  @IntegerFrom(1, 1_000_000)
  API_RATE_LIMIT_PER_MINUTE = 1200;

  /** JSON bodies in general (support actions, signals, PATCH). */
  @IntegerFrom(1, 10_240)
  API_JSON_LIMIT_KB = 64;

  /** POST /waves: an explicit list of up to 100,000 logins fits in 4 MB. */
  @IntegerFrom(1, 65_536)
  API_WAVE_JSON_LIMIT_KB = 4096;

  /** CSV import: size and data lines (1M accounts are ~45 MB). */
  @IntegerFrom(1, 10_240)
  API_CSV_MAX_MB = 256;

  @IntegerFrom(1, 50_000_000)
  API_CSV_MAX_LINES = 5_000_000;

  /**
   * A request's headers must all arrive within this, or it gets a 408 problem and its connection is closed: a client
   * dripping headers (no key needed) holds a connection this long, not node's 60 s. Idle keep-alive does not count.
   */
  @IntegerFrom(1_000, 120_000)
  API_HEADERS_TIMEOUT_MS = 10_000;

  /** A whole request, body included (node's default: a 256 MB import needs ~1 MB/s to fit); 408 beyond it. */
  @IntegerFrom(1_000, 3_600_000)
  API_REQUEST_TIMEOUT_MS = 300_000;

  /** An idle keep-alive connection is closed after this (node's default); behind a load balancer, set it above the
   * balancer's own idle timeout, or it may send a request on a connection the API is closing (a 502). */
  @IntegerFrom(1_000, 600_000)
  API_KEEP_ALIVE_TIMEOUT_MS = 5_000;

  /** Progress views are shared by all pollers for this long: dashboards poll every few seconds. */
  @IntegerFrom(0, 10_000)
  API_PROGRESS_CACHE_MS = 1000;

  /** A verified key is trusted for this long before it is looked up again (so a revocation takes this long). */
  @IntegerFrom(0, 60_000)
  API_KEY_CACHE_MS = 2000;

  /** How often an SSE stream checks for a new progress view. */
  @IntegerFrom(100, 60_000)
  API_SSE_INTERVAL_MS = 1000;

  /** Event streams one API key may hold open on one API process (which serves at most 500 in all). */
  @IntegerFrom(1, 500)
  API_SSE_MAX_STREAMS_PER_KEY = 5;

  /**
   * Requests per client address (IPv6: per /64) not authenticated by a key the process already knows: no key, an
   * unknown or revoked key, a key's first look-up. A burst of this many, then as many a minute; per process.
   * Beyond it: 429 before any database look-up.
   */
  @IntegerFrom(1, 1_000_000)
  API_PREAUTH_LIMIT_PER_MINUTE = 120;

  /** An unknown or revoked key is refused from memory for this long (no look-up); a new key works at once. */
  @IntegerFrom(0, 60_000)
  API_KEY_NEGATIVE_CACHE_MS = 5000;

  /**
   * Which proxies may name the client in X-Forwarded-For (Express 'trust proxy'): empty (default) trusts none, the
   * TCP peer is the client; a hop count; or addresses, CIDR ranges and loopback/linklocal/uniquelocal, comma
   * separated. Set it behind a load balancer, or every client shares the balancer's per-address budget.
   */
  @ValidateBy({
    name: 'isTrustProxy',
    validator: {
      validate: (value: unknown) => typeof value === 'string' && trustProxyProblem(value) === null,
      defaultMessage: (args) => trustProxyProblem(String(args?.value)) ?? 'API_TRUST_PROXY is not valid',
    },
  })
  API_TRUST_PROXY = '';
}

const PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/** What is wrong with an API_TRUST_PROXY value, or null. `true` is refused: any client could name any address. */
function trustProxyProblem(value: string): string | null {
  const v = value.trim();
  if (v === '' || v === 'false' || /^\d{1,2}$/.test(v)) return null;
  if (v === 'true') {
    return 'API_TRUST_PROXY=true would let any client choose its address: name the proxies (addresses, CIDRs) or a hop count';
  }
  for (const entry of v.split(',').map((e) => e.trim())) {
    if (PROXY_NAMES.has(entry)) continue;
    const [address, bits, extra] = entry.split('/');
    const family = isIP(address ?? '');
    const max = family === 4 ? 32 : 128;
    const prefixOk = bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= max);
    if (family === 0 || !prefixOk || extra !== undefined) {
      return `API_TRUST_PROXY: "${entry}" is not an address, a CIDR range, loopback, linklocal or uniquelocal`;
    }
  }
  return null;
}

/** The value for Express's 'trust proxy' setting. */
export function trustProxySetting(settings: ApiSettings): boolean | number | string {
  const v = settings.API_TRUST_PROXY.trim();
  if (v === '' || v === 'false') return false;
  if (/^\d+$/.test(v)) return Number(v);
  return v;
}

export function loadApiSettings(env: NodeJS.ProcessEnv = process.env): ApiSettings {
  const { settings, problems } = readSettings(ApiSettings, env);
  if (problems.length === 0 && settings.API_HEADERS_TIMEOUT_MS > settings.API_REQUEST_TIMEOUT_MS) {
    problems.push('API_HEADERS_TIMEOUT_MS must not be longer than API_REQUEST_TIMEOUT_MS (the headers are part of it)');
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return settings;
}
