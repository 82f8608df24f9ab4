import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { requireRedis } from './prerequisites';
import { TEST_REDIS_URL } from './test-env';

export interface TestRedis {
  url: string;
  /** A key prefix unique to this test file: give it to BullMQ and to child processes as REDIS_PREFIX. */
  prefix: string;
  client: Redis;
  /** Deletes every key under the prefix (what a Redis restart without persistence does to us). */
  wipe(): Promise<void>;
  /** Deletes every key under the prefix and disconnects. */
  cleanup(): Promise<void>;
}

export async function createTestRedis(label = 'redis'): Promise<TestRedis> {
  requireRedis();
  const prefix = `reopen-test-${label.replace(/[^a-z0-9]/gi, '')}-${randomBytes(4).toString('hex')}`;
  const client = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 3, lazyConnect: true });
  await client.connect();
  const wipe = async () => {
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      if (keys.length) await client.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  };
  return {
    url: TEST_REDIS_URL,
    prefix,
    client,
    wipe,
    cleanup: async () => {
      await wipe();
      client.disconnect();
    },
  };
}
