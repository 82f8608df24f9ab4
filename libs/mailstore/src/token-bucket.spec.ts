import { TokenBucket } from './token-bucket';

function bucket(ratePerSecond: number, capacity: number, initialTokens?: number) {
  const clock = { t: 1_000 };
  const b = new TokenBucket({ ratePerSecond, capacity, initialTokens, now: () => clock.t });
  return { b, clock };
}

describe('TokenBucket', () => {
  it('starts full and serves a burst up to capacity, then refuses', () => {
    const { b } = bucket(10, 5);
    for (let i = 0; i < 5; i++) expect(b.tryTake(1)).toBe(true);
    expect(b.tryTake(1)).toBe(false);
    expect(b.available()).toBeCloseTo(0);
  });

  it('refills at the rate and never above capacity', () => {
    const { b, clock } = bucket(10, 5, 0);
    clock.t += 250;
    expect(b.available()).toBeCloseTo(2.5);
    clock.t += 10_000;
    expect(b.available()).toBe(5);
  });

  it('reservations queue up: each waits for its own tokens', () => {
    const { b } = bucket(10, 2);
    expect(b.reserve(1)).toBe(0);
    expect(b.reserve(1)).toBe(0);
    expect(b.reserve(1)).toBeCloseTo(100);
    expect(b.reserve(1)).toBeCloseTo(200);
    expect(b.reserve(5)).toBeCloseTo(700);
  });

  it('keeps the long-run rate: 100 reservations of 1 at 20/s, burst 5, end after ~4.75 s', () => {
    const { b } = bucket(20, 5);
    let last = 0;
    for (let i = 0; i < 100; i++) last = b.reserve(1);
    expect(last).toBeCloseTo(((100 - 5) / 20) * 1_000);
  });

  it('serves a cost larger than the capacity after the excess has refilled', () => {
    const { b } = bucket(100, 50);
    expect(b.reserve(80)).toBeCloseTo(300);
  });

  it('refund gives back an unspent reservation', () => {
    const { b } = bucket(10, 2, 0);
    expect(b.reserve(1)).toBeCloseTo(100);
    b.refund(1);
    expect(b.reserve(1)).toBeCloseTo(100);
  });

  it('blockFor empties the bucket and refills nothing until the block ends', () => {
    const { b, clock } = bucket(10, 5);
    b.blockFor(2_000);
    expect(b.tryTake(1)).toBe(false);
    expect(b.reserve(1)).toBeCloseTo(2_100);
    clock.t += 2_100;
    expect(b.available()).toBeCloseTo(0);
    clock.t += 100;
    expect(b.tryTake(1)).toBe(true);
  });

  it('rejects nonsense rates and capacities', () => {
    expect(() => bucket(0, 1)).toThrow(RangeError);
    expect(() => bucket(1, Number.NaN)).toThrow(RangeError);
  });
});
