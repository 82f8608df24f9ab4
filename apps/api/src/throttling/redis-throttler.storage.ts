import type Redis from 'ioredis';
import type { ThrottlerStorage } from '@nestjs/throttler';

interface ThrottlerStorageRecord {
  totalHits: number;
  timeToExpire: number;
  isBlocked: boolean;
  timeToBlockExpire: number;
}

/**
 * Fixed window counter plus block key, atomically in one script: INCR, set the window's expiry on the first hit,
 * and once over the limit set a block for blockDuration. Returns [hits, window ms left, blocked, block ms left].
 */
const SCRIPT = `
local hits = redis.call('INCR', KEYS[1])
if hits == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
local block = redis.call('PTTL', KEYS[2])
if block > 0 then return {hits, ttl, 1, block} end
if hits > tonumber(ARGV[2]) then
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[3])
  return {hits, ttl, 1, tonumber(ARGV[3])}
end
return {hits, ttl, 0, 0}`;

/**
 * ThrottlerStorage on Redis, so every API process shares one count per key. Times are returned in seconds
 * (rounded up), as @nestjs/throttler's own storage does (they become Retry-After and X-RateLimit-Reset).
 */
export class RedisThrottlerStorage implements ThrottlerStorage {
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
    const base = `${this.prefix}:throttle:${throttlerName}:${key}`;
    const run = (this.redis as unknown as Record<string, (...args: unknown[]) => Promise<number[]>>).reopenThrottle;
    const [hits, ttlMs, blocked, blockMs] = await run.call(
      this.redis,
      `${base}:hits`,
      `${base}:block`,
      Math.max(1, Math.round(ttl)),
      limit,
      Math.max(1, Math.round(blockDuration)),
    );
    return {
      totalHits: hits,
      timeToExpire: Math.ceil(ttlMs / 1000),
      isBlocked: blocked === 1,
      timeToBlockExpire: Math.ceil(blockMs / 1000),
    };
  }
}
