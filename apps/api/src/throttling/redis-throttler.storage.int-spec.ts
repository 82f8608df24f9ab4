import { createTestRedis, pollUntil, TestRedis } from '@app/testing';
import { RedisThrottlerStorage } from './redis-throttler.storage';

describe('RedisThrottlerStorage (real Redis)', () => {
  let redis: TestRedis;
  let storage: RedisThrottlerStorage;
  beforeAll(async () => {
    redis = await createTestRedis('throttle');
    storage = new RedisThrottlerStorage(redis.client, redis.prefix);
  });
  afterAll(async () => {
    await redis.cleanup();
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
});
