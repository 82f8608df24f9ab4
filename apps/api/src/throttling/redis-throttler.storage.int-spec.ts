import { createTestRedis, pollUntil, TestRedis } from '@app/testing';
import { leaseSize, RedisThrottlerStorage } from './redis-throttler.storage';

describe('RedisThrottlerStorage (real Redis)', () => {
  let redis: TestRedis;
  let storage: RedisThrottlerStorage;
  beforeAll(async () => {
    redis = await createTestRedis('throttle');
    storage = new RedisThrottlerStorage(redis.client, redis.prefix);
  });
  afterAll(async () => {
    await redis?.cleanup();
  });

  it('counts hits in a window and blocks past the limit for the block duration', async () => {
    const hit = () => storage.increment('key:a', 1000, 2, 1500, 'default');
    expect(await hit()).toMatchObject({ totalHits: 1, isBlocked: false, timeToExpire: 1 });
    expect(await hit()).toMatchObject({ totalHits: 2, isBlocked: false });
    expect(await hit()).toMatchObject({ totalHits: 3, isBlocked: true, timeToBlockExpire: 2 });
    expect(await storage.increment('key:b', 1000, 2, 1500, 'default')).toMatchObject({
      totalHits: 1,
      isBlocked: false,
    });
    // The window ends, but the block outlasts it.
    await pollUntil(async () => (await redis.client.pttl(`${redis.prefix}:throttle:default:key:a:hits`)) < 0, {
      timeoutMs: 3000,
    });
    expect(await hit()).toMatchObject({ totalHits: 1, isBlocked: true });
    await pollUntil(async () => !(await hit()).isBlocked, { timeoutMs: 4000, intervalMs: 200 });
  });

  it('shares counts between storages on the same Redis (several API processes)', async () => {
    const connection = redis.client.duplicate();
    try {
      const other = new RedisThrottlerStorage(connection, redis.prefix);
      await storage.increment('key:c', 60_000, 2, 60_000, 'default');
      await other.increment('key:c', 60_000, 2, 60_000, 'default');
      expect(await storage.increment('key:c', 60_000, 2, 60_000, 'default')).toMatchObject({
        totalHits: 3,
        isBlocked: true,
      });
    } finally {
      connection.disconnect();
    }
  });

  it('leases 1 % of the limit at a time: one Redis call per lease, hits numbered as without leases', async () => {
    const hitsKey = `${redis.prefix}:throttle:default:key:lease:hits`;
    const hit = () => storage.increment('key:lease', 60_000, 1000, 60_000, 'default');
    const seen = [];
    for (let i = 0; i < 10; i++) seen.push((await hit()).totalHits);
    expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(await redis.client.get(hitsKey)).toBe('10'); // one lease of 10
    expect(await hit()).toMatchObject({ totalHits: 11, isBlocked: false });
    expect(await redis.client.get(hitsKey)).toBe('20');
  });

  it('concurrent requests wait for the lease in flight instead of leasing again', async () => {
    const hits = await Promise.all(
      Array.from({ length: 10 }, () => storage.increment('key:burst', 60_000, 1000, 60_000, 'default')),
    );
    expect(hits.map((h) => h.totalHits).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(await redis.client.get(`${redis.prefix}:throttle:default:key:burst:hits`)).toBe('10');
  });

  it('processes together never admit more than the limit, and lose at most a lease each', async () => {
    const connection = redis.client.duplicate();
    try {
      const processes = [storage, new RedisThrottlerStorage(connection, redis.prefix)];
      const limit = 300; // leases of 3
      let admitted = 0;
      let refused = 0;
      // Uneven interleaving: each round one process or the other takes a burst of concurrent requests.
      for (let round = 0; round < 80; round++) {
        const storageOfRound = processes[round % 3 === 0 ? 1 : 0];
        const burst = await Promise.all(
          Array.from({ length: 1 + (round % 7) }, () =>
            storageOfRound.increment('key:shared', 60_000, limit, 60_000, 'default'),
          ),
        );
        for (const h of burst)
          if (h.isBlocked) refused++;
          else admitted++;
      }
      expect(admitted + refused).toBe(314);
      expect(admitted).toBeLessThanOrEqual(limit);
      expect(admitted).toBeGreaterThanOrEqual(limit - processes.length * (leaseSize(limit) - 1));
      expect(refused).toBeGreaterThan(0);
    } finally {
      connection.disconnect();
    }
  });

  it('sizes leases at 1 % of the limit, one hit at a time under 200', () => {
    expect([1, 3, 199, 200, 1200, 100_000].map(leaseSize)).toEqual([1, 1, 1, 2, 12, 1000]);
  });
});
