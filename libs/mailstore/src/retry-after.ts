/** Used when a 429/503/409-in-progress carries no usable Retry-After (the contract says it always does). */
export const DEFAULT_RETRY_AFTER_MS = 1_000;

/** A hostile or broken server must not park a worker for a day: waits are capped at this. */
export const MAX_RETRY_AFTER_MS = 10 * 60_000;

/**
 * Parses `Retry-After` (RFC 9110 §10.2.3): delay-seconds (the contract's form) or an HTTP-date (robustness).
 * Returns milliseconds, clamped to [0, MAX_RETRY_AFTER_MS], or undefined when absent or unparseable.
 */
export function parseRetryAfter(value: string | string[] | undefined, nowMs: number = Date.now()): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (raw === undefined) return undefined;
  const text = raw.trim();
  if (text === '') return undefined;
  if (/^\d+$/.test(text)) {
    return clamp(Number(text) * 1_000);
  }
  // HTTP-date only: Date.parse is lenient, so insist on the IMF-fixdate / RFC 850 / asctime shapes' weekday prefix.
  if (!/^(Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*,? /.test(text)) return undefined;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return clamp(at - nowMs);
}

/**
 * The wait a rate-limit/overload/in-progress answer asks for: the header first, then the problem body's
 * `retryAfterSeconds`, then the default.
 */
export function retryAfterMsFrom(
  header: string | string[] | undefined,
  bodySeconds: unknown,
  nowMs: number = Date.now(),
): number {
  const fromHeader = parseRetryAfter(header, nowMs);
  if (fromHeader !== undefined) return fromHeader;
  if (typeof bodySeconds === 'number' && Number.isFinite(bodySeconds) && bodySeconds >= 0) {
    return clamp(bodySeconds * 1_000);
  }
  return DEFAULT_RETRY_AFTER_MS;
}

function clamp(ms: number): number {
  return Math.min(Math.max(0, Math.round(ms)), MAX_RETRY_AFTER_MS);
}
