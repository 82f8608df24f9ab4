import Redis from 'ioredis';
import { DEFAULT_PACE } from '@app/domain';
import type { PaceSettings } from './engine-settings';

/** Every script starts here: `now` in milliseconds on Redis' own clock (the time base all processes share). */
const NOW_MS = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000`;

/**
 * The global pace of calls to the mailstore, shared by every worker process and both lanes, kept in Redis.
 *
 * Generic cell rate algorithm with reservations: each caller reserves the start time of its next batch
 * (`start = max(now, tat)`, then `tat = start + n / rate`) and sleeps until it. Starts are therefore spaced
 * exactly n / rate apart whichever process makes them, with no burst after idle time, which is what keeps
 * every one-second window near the set rate (BullMQ's limiter lets 52–387/s through for a 200/s target).
 *
 * Two buckets are charged at once: the wave's own (its rate, set by ops, read fresh on every reservation so a
 * change applies at the next batch) and the mailstore's (the advertised account-update rate, shared by all waves
 * and the support lane). The support lane (priority) skips the wave bucket and may start up to one tolerance
 * ahead in the mailstore bucket: it never waits behind a wave's backlog.
 *
 * A 429/503 calls `penalize`: nobody starts before `Retry-After` has passed, and the pace factor halves
 * (multiplicative decrease, never below PACE_MIN_FACTOR); each successful call adds back PACE_RECOVERY_STEP of it
 * (additive increase, at most once per 200 ms; 5 % by default).
 * Redis' own clock (TIME) is the time base, so processes on different machines agree.
 */
const RESERVE = `${NOW_MS}
local cost = tonumber(ARGV[1])
local waveRate = tonumber(ARGV[2])
local mailRate = tonumber(ARGV[3])
local priority = tonumber(ARGV[4])
local maxWait = tonumber(ARGV[5])
local tolerance = tonumber(ARGV[6])
local horizon = tonumber(ARGV[7])
local blocked = tonumber(redis.call('HGET', KEYS[2], 'blocked_until') or '0')
local factor = tonumber(redis.call('HGET', KEYS[2], 'factor') or '1')
-- A bucket with no state (first use, an hour idle, or Redis wiped): slots may already be reserved up to the
-- horizon ahead by callers that asked before it was lost, so its first slot starts after them.
local waveRaw = redis.call('HGET', KEYS[1], 'tat')
local mailRaw = redis.call('HGET', KEYS[2], 'tat')
local waveTat = waveRaw and tonumber(waveRaw) or (now + horizon)
local mailTat = mailRaw and tonumber(mailRaw) or (now + horizon)
-- A changed wave rate applies to the slot already booked too: what is left of it is rescaled to the new rate (a wave
-- slowed to a crawl and set back to 20/s starts again at 20/s within one re-ask, not when the crawl's slot ends).
local waveRateWas = tonumber(redis.call('HGET', KEYS[1], 'rate') or '0')
if waveRaw and waveRateWas > 0 and waveRate > 0 and waveRateWas ~= waveRate and waveTat > now then
  waveTat = now + (waveTat - now) * waveRateWas / waveRate
end
local start = math.max(now, blocked)
if waveRate > 0 and priority == 0 then start = math.max(start, waveTat) end
if mailRate > 0 then
  if priority == 1 then start = math.max(start, mailTat - tolerance) else start = math.max(start, mailTat) end
end
local wait = start - now
-- (half a millisecond of slack: a slot exactly at the horizon must not be lost to floating-point rounding)
if wait > maxWait + 0.5 then return {0, tostring(wait), tostring(factor)} end
if waveRate > 0 and priority == 0 then
  redis.call('HSET', KEYS[1], 'tat', tostring(start + cost * 1000 / (waveRate * factor)), 'rate', tostring(waveRate))
  redis.call('PEXPIRE', KEYS[1], 3600000)
end
if mailRate > 0 then
  redis.call('HSET', KEYS[2], 'tat', tostring(math.max(mailTat, start) + cost * 1000 / (mailRate * factor)))
end
redis.call('PEXPIRE', KEYS[2], 3600000)
return {1, tostring(wait), tostring(factor)}
`;

const PENALIZE = `${NOW_MS}
local until_ = now + tonumber(ARGV[1])
local minFactor = tonumber(ARGV[2])
local blocked = tonumber(redis.call('HGET', KEYS[1], 'blocked_until') or '0')
if until_ > blocked then redis.call('HSET', KEYS[1], 'blocked_until', tostring(until_)) end
local factor = tonumber(redis.call('HGET', KEYS[1], 'factor') or '1')
local last = tonumber(redis.call('HGET', KEYS[1], 'last_decrease') or '0')
-- one decrease per Retry-After episode: a burst of 429s from concurrent batches halves the pace once
if now >= last then
  factor = math.max(minFactor, factor * 0.5)
  redis.call('HSET', KEYS[1], 'factor', tostring(factor), 'last_decrease', tostring(until_))
end
redis.call('PEXPIRE', KEYS[1], 3600000)
return tostring(factor)
`;

const REFUND = `${NOW_MS}
local cost = tonumber(ARGV[1])
local waveRate = tonumber(ARGV[2])
local mailRate = tonumber(ARGV[3])
local factor = tonumber(redis.call('HGET', KEYS[2], 'factor') or '1')
local function give(key, rate)
  local tat = tonumber(redis.call('HGET', key, 'tat') or '0')
  if tat > now then redis.call('HSET', key, 'tat', tostring(math.max(now, tat - cost * 1000 / (rate * factor)))) end
end
if waveRate > 0 then give(KEYS[1], waveRate) end
if mailRate > 0 then give(KEYS[2], mailRate) end
return 1
`;

const BLOCKED = `${NOW_MS}
local blocked = tonumber(redis.call('HGET', KEYS[1], 'blocked_until') or '0')
return tostring(math.max(0, blocked - now))
`;

const REWARD = `${NOW_MS}
local factor = tonumber(redis.call('HGET', KEYS[1], 'factor') or '1')
if factor >= 1 then return '1' end
local last = tonumber(redis.call('HGET', KEYS[1], 'last_increase') or '0')
if now - last < 200 then return tostring(factor) end
factor = math.min(1, factor + tonumber(ARGV[1]))
redis.call('HSET', KEYS[1], 'factor', tostring(factor), 'last_increase', tostring(now))
return tostring(factor)
`;

export interface ReserveRequest {
  /** Accounts in the batch (a batch of N costs N). */
  cost: number;
  /** The wave's rate in accounts/s; 0 for none (support lane). */
  waveRate: number;
  waveKey?: string;
  /** The mailstore's advertised account updates/s; 0 when it advertises no limit. */
  mailstoreRate: number;
  priority?: boolean;
  /**
   * Do not reserve further ahead than this: sleep and ask again (so state checks and rate changes apply).
   * Default and upper bound: the throttle's horizon.
   */
  maxWaitMs?: number;
}

/** A pace request, or how to build it at each re-ask (from the capabilities as last read). */
export type PaceAsk = ReserveRequest | (() => ReserveRequest);

export interface Reservation {
  reserved: boolean;
  /** How long to wait before starting (reserved) or before asking again (not reserved). */
  waitMs: number;
  /** The AIMD pace factor in force (1 = full rate). */
  factor: number;
}

type Eval = (script: string, keys: number, ...args: (string | number)[]) => Promise<unknown>;

/**
 * How far ahead a slot may be reserved. It bounds what a Redis wipe can let through: the reservations made before
 * the wipe start within it, and a bucket found empty starts after it, so the pace never doubles (issue 14: a wipe
 * with 1 s reservations let 161 % of the rate through in one second). Callers re-ask at least this often.
 */
export const RESERVE_HORIZON_MS = 250;

export class Throttle {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly pace: PaceSettings = DEFAULT_PACE,
    private readonly horizonMs = RESERVE_HORIZON_MS,
  ) {}

  private get evalScript(): Eval {
    return this.redis.eval.bind(this.redis);
  }

  private mailKey(): string {
    return throttleMailstoreKey(this.prefix);
  }

  async reserve(req: ReserveRequest): Promise<Reservation> {
    const waveKey = `${this.prefix}:throttle:wave:${req.waveKey ?? 'support'}`;
    const tolerance = req.mailstoreRate > 0 ? (req.cost * 1000) / req.mailstoreRate : 0;
    const [reserved, wait, factor] = (await this.evalScript(
      RESERVE,
      2,
      waveKey,
      this.mailKey(),
      req.cost,
      req.waveRate,
      req.mailstoreRate,
      req.priority ? 1 : 0,
      this.maxWait(req),
      tolerance,
      this.horizonMs,
    )) as [number, string, string];
    return { reserved: reserved === 1, waitMs: Math.max(0, Number(wait)), factor: Number(factor) };
  }

  /** How far ahead this request may reserve: its own maxWaitMs, never beyond the horizon. */
  private maxWait(req: ReserveRequest): number {
    return Math.min(req.maxWaitMs ?? this.horizonMs, this.horizonMs);
  }

  /**
   * Waits for a slot (re-asking at most every maxWaitMs); returns false if `stillWanted` turns false meanwhile. A
   * request given as a function is built again at every re-ask (the mailstore's rate may have been read again).
   */
  async acquire(req: PaceAsk, stillWanted: () => Promise<boolean> | boolean = () => true): Promise<boolean> {
    const startsAt = await this.book(req, stillWanted);
    if (startsAt === null) return false;
    await sleepUntil(startsAt);
    return true;
  }

  /**
   * Reserves a slot (re-asking at most every maxWaitMs while none is free) and returns when it starts, on the
   * `performance.now()` clock, at most the horizon ahead; null if `stillWanted` turned false meanwhile. Lets the
   * caller prepare its call while the slot comes (then `sleepUntil` it), so the call starts on time.
   */
  async book(req: PaceAsk, stillWanted: () => Promise<boolean> | boolean = () => true): Promise<number | null> {
    for (;;) {
      const asked = performance.now();
      const ask = typeof req === 'function' ? req() : req;
      const r = await this.reserve(ask);
      if (r.reserved) return asked + r.waitMs;
      await sleep(Math.min(r.waitMs, this.maxWait(ask)));
      if (!(await stillWanted())) return null;
    }
  }

  /**
   * Gives back the part of a reservation that was not used (members skipped by the send permit, which decides who
   * is sent only after the slot was booked): the next slots come that much earlier, so the rate counts accounts
   * sent, not accounts looked at. Never before now.
   */
  async refund(req: Pick<ReserveRequest, 'cost' | 'waveRate' | 'waveKey' | 'mailstoreRate'>): Promise<void> {
    if (req.cost <= 0) return;
    await this.evalScript(
      REFUND,
      2,
      `${this.prefix}:throttle:wave:${req.waveKey ?? 'support'}`,
      this.mailKey(),
      req.cost,
      req.waveRate,
      req.mailstoreRate,
    );
  }

  /** A 429 or 503: nobody starts before retryAfterMs has passed, and the pace halves. */
  async penalize(retryAfterMs: number): Promise<number> {
    return Number(await this.evalScript(PENALIZE, 1, this.mailKey(), Math.max(0, retryAfterMs), this.pace.minFactor));
  }

  /** How long every dispatcher must still wait after a 429/503 (0 when not blocked). */
  async blockedMs(): Promise<number> {
    return Number(await this.evalScript(BLOCKED, 1, this.mailKey()));
  }

  /** A successful call: the pace recovers by the recovery step of the set rate. */
  async reward(): Promise<number> {
    return Number(await this.evalScript(REWARD, 1, this.mailKey(), this.pace.recoveryStep));
  }

  async state(): Promise<{ blockedUntil: number; factor: number }> {
    const h = await this.redis.hgetall(this.mailKey());
    return { blockedUntil: Number(h.blocked_until ?? 0), factor: Number(h.factor ?? 1) };
  }
}

/** The Redis hash of the mailstore's bucket: its reservations, the pace factor and the Retry-After block. */
export function throttleMailstoreKey(prefix: string): string {
  return `${prefix}:throttle:mailstore`;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Sleeps until `at` on the `performance.now()` clock (at once if it has passed). */
export async function sleepUntil(at: number): Promise<void> {
  const ms = at - performance.now();
  if (ms > 0) await sleep(ms);
}
