import type Redis from 'ioredis';
import type { ThrottlerStorage } from '@nestjs/throttler';

interface ThrottlerStorageRecord {
  totalHits: number;
  timeToExpire: number;
  isBlocked: boolean;
  timeToBlockExpire: number;
}

/**
 * Fixed window counter plus block key, atomically in one script: INCRBY the lease size, set the window's expiry
 * when this call created the counter, and when the lease's first hit is over the limit set a block for
 * blockDuration. Returns [hits after the lease, window ms left, blocked, block ms left].
 */
const SCRIPT = `
local lease = tonumber(ARGV[4])
local hits = redis.call('INCRBY', KEYS[1], lease)
if hits == lease then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
local block = redis.call('PTTL', KEYS[2])
if block > 0 then return {hits, ttl, 1, block} end
if hits - lease >= tonumber(ARGV[2]) then
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[3])
  return {hits, ttl, 1, tonumber(ARGV[3])}
end
return {hits, ttl, 0, 0}`;

/** Hits this process may still admit for one tracker in the current window, without asking Redis. */
interface Lease {
  /** Hits counted in Redis before this lease. */
  base: number;
  granted: number;
  used: number;
  windowEndsAt: number;
}

const MAX_TRACKED = 10_000;

/**
 * One key's hits in a lease of 1 % of its limit (at least 1): a limit of 1,200 a minute costs one Redis call per
 * 12 requests per process instead of one per request. What a process leases is counted in Redis at once, and it
 * only admits the part of a lease under the limit, so the API processes together never admit more than the limit;
 * hits leased but unused when the window ends are lost, so a key may be refused up to 1 % of its limit early per
 * process. Limits under 200 a window lease one hit at a time: exact.
 */
export function leaseSize(limit: number): number {
  return Math.max(1, Math.floor(limit / 100));
}

/**
 * ThrottlerStorage on Redis, so every API process shares one count per key, with hits leased in small blocks
 * (leaseSize) so a dashboard's polls do not each wait on Redis. Times are returned in seconds (rounded up), as
 * @nestjs/throttler's own storage does (they become Retry-After and X-RateLimit-Reset).
 */
export class RedisThrottlerStorage implements ThrottlerStorage {
  private readonly leases = new Map<string, Lease>();
  /** The Redis call in flight per tracker: concurrent requests wait for it rather than lease again. */
  private readonly leasing = new Map<string, Promise<unknown>>();

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {
    redis.defineCommand('reopenThrottle', { numberOfKeys: 2, lua: SCRIPT });
  }

  async increment(
    key: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    throttlerName: string,
  ): Promise<ThrottlerStorageRecord> {
    const id = `${throttlerName}:${key}`;
    for (;;) {
      const local = this.fromLease(id, Date.now());
      if (local) return local;
      const inFlight = this.leasing.get(id);
      if (!inFlight) break;
      await inFlight.catch(() => undefined);
    }
    const call = this.lease(id, ttl, limit, blockDuration);
    this.leasing.set(id, call);
    try {
      return await call;
    } finally {
      this.leasing.delete(id);
    }
  }

  private fromLease(id: string, now: number): ThrottlerStorageRecord | undefined {
    const lease = this.leases.get(id);
    if (!lease || now >= lease.windowEndsAt || lease.used >= lease.granted) return undefined;
    lease.used += 1;
    const timeToExpire = Math.ceil((lease.windowEndsAt - now) / 1000);
    return { totalHits: lease.base + lease.used, timeToExpire, isBlocked: false, timeToBlockExpire: 0 };
  }

  private async lease(id: string, ttl: number, limit: number, blockDuration: number): Promise<ThrottlerStorageRecord> {
    const size = leaseSize(limit);
    const base = `${this.prefix}:throttle:${id}`;
    const run = (this.redis as unknown as Record<string, (...args: unknown[]) => Promise<number[]>>).reopenThrottle;
    const [hits, ttlMs, blocked, blockMs] = await run.call(
      this.redis,
      `${base}:hits`,
      `${base}:block`,
      Math.max(1, Math.round(ttl)),
      limit,
      Math.max(1, Math.round(blockDuration)),
      size,
    );
    const now = Date.now();
    const before = hits - size;
    // A blocked key keeps asking Redis (each refused request is counted there, as without leases).
    if (blocked === 1) this.leases.delete(id);
    else {
      if (this.leases.size >= MAX_TRACKED) this.prune(now);
      const granted = Math.min(size, limit - before);
      this.leases.set(id, { base: before, granted, used: 1, windowEndsAt: now + ttlMs });
    }
    return {
      totalHits: before + 1,
      timeToExpire: Math.ceil(ttlMs / 1000),
      isBlocked: blocked === 1,
      timeToBlockExpire: Math.ceil(blockMs / 1000),
    };
  }

  private prune(now: number): void {
    for (const [id, lease] of this.leases) if (now >= lease.windowEndsAt) this.leases.delete(id);
    if (this.leases.size >= MAX_TRACKED) this.leases.clear();
  }
}
