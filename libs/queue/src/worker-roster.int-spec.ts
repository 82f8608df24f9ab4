import Redis from 'ioredis';
import { TEST_REDIS_URL } from '@app/testing';
import { WORKER_FORGET_MS, WorkerIdentity, WorkerRoster } from './worker-roster';

const identity = (n: number): WorkerIdentity => ({
  id: `host-${n}/${100 + n}/00000${n}`,
  version: '1.0.0',
  commit: 'abc1234',
  hostname: `host-${n}`,
  pid: 100 + n,
  startedAt: '2026-05-09T05:00:00.000Z',
  driver: 'dovecot-sql',
});

/** The roster on a real Redis, on Redis's clock: reports, a graceful leave, forgetting, a foreign report. */
describe('WorkerRoster (real Redis)', () => {
  let redis: Redis;
  let roster: WorkerRoster;
  const prefix = `int-roster-${process.pid}`;
  const zset = `${prefix}:reopen:workers`;
  const hash = `${prefix}:reopen:workers:identity`;

  beforeAll(() => {
    redis = new Redis(TEST_REDIS_URL);
    roster = new WorkerRoster(redis, prefix);
  });
  afterAll(async () => {
    await redis.del(zset, hash);
    redis.disconnect();
  });
  beforeEach(async () => {
    await redis.del(zset, hash);
  });

  it('lists a worker that reported as alive, with the identity it gave and Redis time as its last report', async () => {
    const [seconds] = await redis.time();
    await roster.report(identity(1));
    const [w] = await roster.read();
    expect(w).toEqual({ ...identity(1), alive: true, lastSeenAt: expect.any(String) });
    expect(Math.abs(Date.parse(w.lastSeenAt) - Number(seconds) * 1000)).toBeLessThan(2000);
  });

  it('a worker that left is listed, not alive, with when it left; the alive come first', async () => {
    await roster.report(identity(1));
    await roster.report(identity(2));
    await roster.leave(identity(1));
    const read = await roster.read();
    expect(read.map((w) => [w.id, w.alive, typeof w.leftAt])).toEqual([
      [identity(2).id, true, 'undefined'],
      [identity(1).id, false, 'string'],
    ]);
  });

  it('a report older than the forget horizon is dropped from both keys; a stale one within it is listed dead', async () => {
    const [seconds] = await redis.time();
    const now = Number(seconds) * 1000;
    await redis.zadd(zset, now - WORKER_FORGET_MS - 1000, 'old', now - 60_000, 'stale');
    await redis.hset(hash, 'old', JSON.stringify(identity(3)), 'stale', JSON.stringify(identity(4)));
    const read = await roster.read();
    expect(read.map((w) => [w.id, w.alive])).toEqual([['stale', false]]);
    expect(await redis.zrange(zset, 0, -1)).toEqual(['stale']);
    expect(await redis.hkeys(hash)).toEqual(['stale']);
  });

  it('a report written by another version (fields missing, not JSON) reads as unknown, never throws', async () => {
    await redis.zadd(zset, Date.now(), 'a', Date.now(), 'b');
    await redis.hset(hash, 'a', '{"version":"0.9.0"}', 'b', 'not json');
    const read = await roster.read();
    expect(read.map((w) => [w.id, w.version, w.hostname, w.pid])).toEqual(
      expect.arrayContaining([
        ['a', '0.9.0', 'unknown', 0],
        ['b', 'unknown', 'unknown', 0],
      ]),
    );
  });
});
