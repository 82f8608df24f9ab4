import type { Capabilities, Protocol, RateLimits } from './mailstore.types';
import { isNonNegativeInteger, isRecord, type Checked } from './response-guards';

/**
 * Used for fields a mailstore leaves out. Chosen on the safe side: the contract's documented limits and
 * TTL, no session revocation or conditional updates unless announced, and eventual propagation (300 s,
 * mailcow's bound) unless the mailstore says it is immediate.
 */
export const DEFAULT_CAPABILITIES: Capabilities = {
  protocols: ['imap', 'pop3'],
  maxBatchItems: 500,
  revokeSessions: false,
  conditionalUpdates: false,
  idempotencyKeyTtlSeconds: 86_400,
  propagation: { mode: 'eventual', maxSeconds: 300 },
  rateLimits: { requestsPerSecond: 20, requestBurst: 40, accountUpdatesPerSecond: 200, accountUpdateBurst: 500 },
};

const KNOWN_PROTOCOLS: readonly Protocol[] = ['imap', 'pop3'];

/**
 * Checks `GET /v1/capabilities`. Missing fields take DEFAULT_CAPABILITIES; a field that is present but wrong
 * (a string rate, a zero batch size) makes the whole answer invalid: guessing would pace or size wrongly.
 */
export function checkCapabilities(body: unknown): Checked<Capabilities> {
  if (!isRecord(body)) return invalid('capabilities are not an object');
  const d = DEFAULT_CAPABILITIES;

  let protocols = d.protocols;
  if (body.protocols !== undefined) {
    if (!Array.isArray(body.protocols) || !body.protocols.every((p) => typeof p === 'string')) {
      return invalid('protocols is not a list of strings');
    }
    // Unknown protocols are ignored (forward compatibility), but an empty intersection is useless.
    protocols = KNOWN_PROTOCOLS.filter((p) => (body.protocols as string[]).includes(p));
    if (protocols.length === 0) return invalid('no known protocol (imap, pop3) is supported');
  }

  const maxBatchItems = positiveInteger(body.maxBatchItems, d.maxBatchItems);
  if (maxBatchItems === undefined) return invalid('maxBatchItems is not a positive integer');
  const revokeSessions = boolean(body.revokeSessions, d.revokeSessions);
  if (revokeSessions === undefined) return invalid('revokeSessions is not a boolean');
  const conditionalUpdates = boolean(body.conditionalUpdates, d.conditionalUpdates);
  if (conditionalUpdates === undefined) return invalid('conditionalUpdates is not a boolean');
  const ttl = body.idempotencyKeyTtlSeconds ?? d.idempotencyKeyTtlSeconds;
  if (!isNonNegativeInteger(ttl)) return invalid('idempotencyKeyTtlSeconds is not an integer');

  let propagation = d.propagation;
  if (body.propagation !== undefined) {
    const p = body.propagation;
    if (!isRecord(p) || (p.mode !== 'immediate' && p.mode !== 'eventual')) {
      return invalid('propagation.mode is not immediate|eventual');
    }
    const maxSeconds = p.maxSeconds ?? (p.mode === 'immediate' ? 0 : d.propagation.maxSeconds);
    if (typeof maxSeconds !== 'number' || !Number.isFinite(maxSeconds) || maxSeconds < 0) {
      return invalid('propagation.maxSeconds is not a non-negative number');
    }
    propagation = { mode: p.mode, maxSeconds };
  }

  let rateLimits = d.rateLimits;
  if (body.rateLimits !== undefined) {
    if (!isRecord(body.rateLimits)) return invalid('rateLimits is not an object');
    const r = body.rateLimits;
    const out = {} as RateLimits;
    for (const key of Object.keys(d.rateLimits) as (keyof RateLimits)[]) {
      const value = r[key] ?? d.rateLimits[key];
      if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
        return invalid(`rateLimits.${key} is not a positive number`);
      }
      out[key] = value;
    }
    rateLimits = out;
  }

  return {
    ok: true,
    value: {
      protocols: [...protocols],
      maxBatchItems,
      revokeSessions,
      conditionalUpdates,
      idempotencyKeyTtlSeconds: ttl,
      propagation: { ...propagation },
      rateLimits: { ...rateLimits },
    },
  };
}

/** How many items to put in one batch: what the mailstore accepts and what one update burst can carry. */
export function batchSizeLimit(capabilities: Capabilities): number {
  return Math.max(1, Math.min(capabilities.maxBatchItems, Math.floor(capabilities.rateLimits.accountUpdateBurst)));
}

/** How long after a write to wait before verifying it by GET (0 for immediate propagation). */
export function propagationDelayMs(capabilities: Capabilities): number {
  const { mode, maxSeconds } = capabilities.propagation;
  return mode === 'immediate' ? 0 : Math.round(maxSeconds * 1_000);
}

function invalid(reason: string): Checked<Capabilities> {
  return { ok: false, reason };
}

function positiveInteger(value: unknown, fallback: number): number | undefined {
  const v = value ?? fallback;
  return Number.isSafeInteger(v) && (v as number) >= 1 ? (v as number) : undefined;
}

function boolean(value: unknown, fallback: boolean): boolean | undefined {
  const v = value ?? fallback;
  return typeof v === 'boolean' ? v : undefined;
}
