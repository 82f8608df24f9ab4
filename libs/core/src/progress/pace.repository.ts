import type Redis from 'ioredis';
import { throttleMailstoreKey } from '../engine/throttle';

/** The shared pace as Redis holds it now (libs/core Throttle: the mailstore's bucket). */
export interface PaceNow {
  /** Share of the set rates the pace allows after the mailstore's 429/503s (1: full rate). */
  factor: number;
  /** Milliseconds every sender still waits for the mailstore's Retry-After (0: not blocked). */
  blockedMs: number;
}

/** Read on Redis' own clock, the time base of the Throttle's `blocked_until`: one round trip. */
const PACE_NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local h = redis.call('HMGET', KEYS[1], 'factor', 'blocked_until')
local blocked = tonumber(h[2] or '0')
return {h[1] or '1', tostring(math.max(0, blocked - now))}`;

/**
 * Reads the engine's shared pace for progress (the worker writes it; the API only looks): one EVAL per progress read,
 * whatever the number of waves. Null when Redis cannot answer now (a progress read never waits for a Redis outage:
 * the pace is then shown as unknown).
 */
export class PaceRepository {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async now(): Promise<PaceNow | null> {
    if (this.redis.status !== 'ready') return null;
    try {
      const [factor, blocked] = (await this.redis.eval(PACE_NOW, 1, throttleMailstoreKey(this.prefix))) as [
        string,
        string,
      ];
      return { factor: Number(factor), blockedMs: Number(blocked) };
    } catch {
      return null;
    }
  }
}
