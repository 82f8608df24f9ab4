import { createHmac, timingSafeEqual } from 'node:crypto';

/*
 * Delivering a notification (issue 20), pure: the signature a receiver checks, and when a failed delivery is tried
 * again or given up.
 */

/** The headers of a signed delivery. */
export const SIGNATURE_HEADERS = {
  eventId: 'x-reopen-event-id',
  timestamp: 'x-reopen-timestamp',
  signature: 'x-reopen-signature',
} as const;

/** `v1=` + hex HMAC-SHA256 of `<timestamp>.<body>` with the subscription's secret (timestamp in Unix seconds). */
export function signatureOf(secret: string, timestampS: number, body: string): string {
  return `v1=${createHmac('sha256', secret).update(`${timestampS}.${body}`).digest('hex')}`;
}

/** A receiver's check: the signature matches and the timestamp is within `toleranceS` of now (replays refused). */
export function verifySignature(
  secret: string,
  header: { timestamp: string | undefined; signature: string | undefined },
  body: string,
  nowS: number,
  toleranceS = 300,
): boolean {
  const ts = header.timestamp;
  if (!ts || !/^\d{1,12}$/.test(ts) || !header.signature) return false;
  if (Math.abs(nowS - Number(ts)) > toleranceS) return false;
  const expected = Buffer.from(signatureOf(secret, Number(ts), body));
  const given = Buffer.from(header.signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

export interface BackoffSettings {
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffSettings = { baseMs: 1_000, maxMs: 5 * 60_000 };

/** A receiver's Retry-After is obeyed up to this (a broken one must not park its events for a day). */
export const MAX_NOTIFICATION_RETRY_AFTER_MS = 60 * 60_000;

/**
 * How long to wait after a failed attempt (`attempt` counts from 1) before the next: `baseMs × 2^(attempt−1)` capped
 * at `maxMs`, or the receiver's `Retry-After` (a 429) when it gave one, as asked (up to an hour). Whether to try again
 * at all is `afterFailedAttempt`'s.
 */
export function retryDelayMs(attempt: number, settings: BackoffSettings = DEFAULT_BACKOFF, retryAfterMs?: number) {
  if (retryAfterMs !== undefined && Number.isFinite(retryAfterMs)) {
    return Math.min(Math.max(0, retryAfterMs), MAX_NOTIFICATION_RETRY_AFTER_MS);
  }
  const exponent = Math.min(Math.max(attempt, 1) - 1, 30);
  return Math.min(settings.baseMs * 2 ** exponent, settings.maxMs);
}

/** When a delivery is given up (NOTIFY_GIVE_UP_AFTER_S, NOTIFY_MAX_ATTEMPTS). */
export interface GiveUpBound {
  /** How long after its event (or its redelivery by ops) a delivery may still be tried. */
  afterMs: number;
  /** At most this many attempts; 0: no bound on the count. */
  maxAttempts: number;
}

/**
 * What follows a failed attempt (`attempts` made so far, `remainingMs` of its bound left when it was claimed): give up
 * (the delivery ends `failed`, and the next events of its wave go on), or try again after `delayMs`, never later than
 * the bound itself, so the last attempt is made when the bound falls, not up to a backoff after it.
 */
export function afterFailedAttempt(
  attempts: number,
  remainingMs: number,
  delayMs: number,
  bound: GiveUpBound,
): { giveUp: true } | { giveUp: false; delayMs: number } {
  if (remainingMs <= 0 || (bound.maxAttempts > 0 && attempts >= bound.maxAttempts)) return { giveUp: true };
  return { giveUp: false, delayMs: Math.min(delayMs, remainingMs) };
}

/** An answer acknowledges the event when it is a 2xx; anything else (or none) is retried, within its bound. */
export function isAcknowledged(status: number | null): boolean {
  return status !== null && status >= 200 && status < 300;
}
