import { createTestRedis, TestRedis } from '@app/testing';
import { RESERVE_HORIZON_MS, sleepUntil, Throttle } from './throttle';

/**
 * The global pace in a real Redis: slots are spaced cost/rate apart, never reserved beyond the horizon, and a
 * Redis that lost the pace's state (FLUSHALL, a restart without persistence) starts its next slot after every slot
 * reserved before the loss, so the pace cannot double (issue 14: 161 % of the rate in the second after a wipe).
 */
describe('Throttle (real Redis)', () => {
  let redis: TestRedis;
  let n = 0;
  beforeAll(async () => {
    redis = await createTestRedis('throttle');
  });
  afterAll(async () => {
    await redis?.cleanup();
  });

  /** The slot's start on the local clock (Redis runs on this machine: the same clock). */
  /**
   * A reservation's start on this process's clock, from the instant it asked. Redis measured the wait a little later,
   * by at most the request's round trip (`roundTripMs`): two starts' difference is the slots' spacing on Redis's clock
   * minus up to the later one's round trip, plus up to the earlier one's. Bounds below allow exactly that.
   */
  async function reserveAt(t: Throttle, waveKey: string, cost: number, rate: number) {
    const asked = Date.now();
    const sent = performance.now();
    const r = await t.reserve({ cost, waveRate: rate, waveKey, mailstoreRate: 0 });
    return { ...r, startsAt: asked + r.waitMs, roundTripMs: performance.now() - sent };
  }
  const wipe = async () => {
    const keys = await redis.client.keys(`${redis.prefix}:throttle:*`);
    if (keys.length) await redis.client.del(...keys);
  };

  it('spaces slots cost/rate apart and never reserves beyond the horizon', async () => {
    const t = new Throttle(redis.client, redis.prefix);
    const key = `spacing-${n++}`;
    // A bucket with no state starts at the horizon (slots may have been reserved up to there before it was lost).
    const initial = await reserveAt(t, key, 10, 200); // 50 ms a slot
    expect(initial.reserved).toBe(true);
    expect(initial.waitMs).toBeGreaterThanOrEqual(RESERVE_HORIZON_MS - 5);
    await new Promise((resolve) => setTimeout(resolve, initial.waitMs));
    const first = await reserveAt(t, key, 10, 200);
    const second = await reserveAt(t, key, 10, 200);
    expect(first.reserved && second.reserved).toBe(true);
    expect(second.startsAt - first.startsAt).toBeGreaterThanOrEqual(45 - second.roundTripMs);
    expect(second.startsAt - first.startsAt).toBeLessThanOrEqual(60 + first.roundTripMs);
    let last = second;
    for (let i = 0; i < 20; i++) {
      const r = await reserveAt(t, key, 10, 200);
      if (!r.reserved) break;
      expect(r.waitMs).toBeLessThanOrEqual(RESERVE_HORIZON_MS + 1);
      last = r;
    }
    expect(last.startsAt - first.startsAt).toBeGreaterThanOrEqual(150); // several slots fit in the horizon
  });

  it('a rate change applies to the slot already booked: from a crawl back to 20/s within 2 s', async () => {
    // Issue 15: a rate of 1e-300/s booked the next slot 10^303 ms ahead, and 20/s then moved nothing for an hour.
    for (const crawl of [1e-300, 0.1]) {
      const t = new Throttle(redis.client, redis.prefix);
      const key = `change-${n++}`;
      expect((await reserveAt(t, key, 5, crawl)).reserved).toBe(true);
      expect((await reserveAt(t, key, 5, crawl)).reserved).toBe(false); // the crawl's next slot: beyond the horizon
      const asked = performance.now();
      const fast = (await t.book({ cost: 5, waveRate: 20, waveKey: key, mailstoreRate: 0 }))!; // 250 ms a slot
      // book() places Redis's slot on this process's clock from the instant it asked: off by the request's way to
      // Redis, at most its round trip (milliseconds on a loaded machine). Slots are exactly 250 ms apart on Redis's.
      const fastTrip = performance.now() - asked;
      expect(fast - asked).toBeLessThanOrEqual(2000);
      const sentNext = performance.now();
      const next = (await t.book({ cost: 5, waveRate: 20, waveKey: key, mailstoreRate: 0 }))!;
      const nextTrip = performance.now() - sentNext;
      expect(next - fast).toBeGreaterThanOrEqual(245 - nextTrip);
      expect(next - fast).toBeLessThanOrEqual(300 + fastTrip);
    }
  });

  it('slowing down applies at once too: the slot booked at the fast rate is stretched to the slow one', async () => {
    const t = new Throttle(redis.client, redis.prefix);
    const key = `slower-${n++}`;
    // Each booked start with the round trip that placed it (see reserveAt).
    const book = async (rate: number) => {
      const sent = performance.now();
      const at = (await t.book({ cost: 10, waveRate: rate, waveKey: key, mailstoreRate: 0 })) as number;
      return { at, roundTripMs: performance.now() - sent };
    };
    await sleepUntil((await book(1000)).at); // 10 ms a slot
    const a = await book(1000);
    const b = await book(100); // what is left of a's 10 ms is stretched ×10
    const c = await book(100);
    expect(b.at - a.at).toBeGreaterThanOrEqual(50 - b.roundTripMs);
    expect(c.at - b.at).toBeGreaterThanOrEqual(95 - c.roundTripMs);
    expect(c.at - b.at).toBeLessThanOrEqual(150 + b.roundTripMs);
  });

  it('after a wipe, the first slot starts after every slot reserved before it', async () => {
    const t = new Throttle(redis.client, redis.prefix);
    const key = `wipe-${n++}`;
    const before: number[] = [];
    const initial = await reserveAt(t, key, 20, 400); // 50 ms a slot: the horizon holds about five
    await new Promise((resolve) => setTimeout(resolve, initial.waitMs));
    for (;;) {
      const r = await reserveAt(t, key, 20, 400);
      if (!r.reserved) break;
      before.push(r.startsAt);
    }
    expect(before.length).toBeGreaterThanOrEqual(3);
    await wipe();
    const after = await reserveAt(t, key, 20, 400);
    expect(after.reserved).toBe(true);
    // Slots are starts: the first after the wipe is no earlier than the last before it (2 ms of clock rounding, and
    // its own round trip: see reserveAt).
    expect(after.startsAt).toBeGreaterThanOrEqual(Math.max(...before) - 2 - after.roundTripMs);
  });

  it('gives back the unused part of a reservation: the next slot comes that much earlier, never before now', async () => {
    const t = new Throttle(redis.client, redis.prefix);
    const key = `refund-${n++}`;
    const initial = await reserveAt(t, key, 10, 100); // 100 ms a slot
    await new Promise((resolve) => setTimeout(resolve, initial.waitMs));
    const a = await reserveAt(t, key, 10, 100);
    await t.refund({ cost: 4, waveRate: 100, waveKey: key, mailstoreRate: 0 }); // 4 of its 10 were not sent
    const b = await reserveAt(t, key, 10, 100);
    expect(b.startsAt - a.startsAt).toBeGreaterThanOrEqual(55 - b.roundTripMs);
    expect(b.startsAt - a.startsAt).toBeLessThanOrEqual(66 + a.roundTripMs);
    await t.refund({ cost: 1000, waveRate: 100, waveKey: key, mailstoreRate: 0 });
    const c = await reserveAt(t, key, 10, 100);
    expect(c.waitMs).toBeLessThanOrEqual(5); // back to now, not into the past
  });

  it('a 429 blocks every caller for Retry-After and halves the pace, which recovers by steps', async () => {
    const t = new Throttle(redis.client, redis.prefix);
    expect(await t.penalize(300)).toBe(0.5);
    expect(await t.blockedMs()).toBeGreaterThan(200);
    const r = await reserveAt(t, `blocked-${n++}`, 1, 1000);
    expect(r.waitMs).toBeGreaterThan(200);
    await new Promise((resolve) => setTimeout(resolve, 320));
    expect(await t.blockedMs()).toBe(0);
    expect(await t.reward()).toBeCloseTo(0.55, 5);
  });
});
