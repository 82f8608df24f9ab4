import { allowedStatesFor, batchSizeFor, paceRequestFor } from './pump-pace';

const wave = (over: { batchSize?: number; ratePerSecond?: number; rollbackRatePerSecond?: number } = {}) => ({
  id: 'w1',
  batchSize: 100,
  ratePerSecond: 2000,
  rollbackRatePerSecond: 300,
  ...over,
});

describe("a pump's arithmetic", () => {
  it.each<[string, Parameters<typeof wave>[0], 'forward' | 'rollback', number | undefined, number]>([
    ['the wave batch size', {}, 'forward', 500, 100],
    ['the mailstore maximum', { batchSize: 400, ratePerSecond: 10_000 }, 'forward', 250, 250],
    ['500 while the maximum is unknown', { batchSize: 800, ratePerSecond: 100_000 }, 'forward', undefined, 500],
    ['a tenth of the rate (the 110 % window rule)', { ratePerSecond: 300 }, 'forward', 500, 30],
    ["the lane's own rate", {}, 'rollback', 500, 30],
    ['at least one below 10/s', { ratePerSecond: 5 }, 'forward', 500, 1],
    ['at least one for a zero batch size', { batchSize: 0 }, 'forward', 500, 1],
  ])('batch size: %s', (_name, over, kind, max, size) => {
    expect(batchSizeFor(wave(over), kind, max)).toBe(size);
  });

  it("books the lane's rate under the lane's own key, and no mailstore limit when none is advertised", () => {
    expect(paceRequestFor(wave(), 'forward', 40, 1000)).toEqual({
      cost: 40,
      waveRate: 2000,
      waveKey: 'w1:forward',
      mailstoreRate: 1000,
    });
    expect(paceRequestFor(wave(), 'rollback', 3, undefined)).toEqual({
      cost: 3,
      waveRate: 300,
      waveKey: 'w1:rollback',
      mailstoreRate: 0,
    });
  });

  it('sends a batch while its wave runs; an attempted forward batch also while the wave is cancelled or rolled back', () => {
    expect(allowedStatesFor('forward', 0)).toEqual(['running']);
    expect(allowedStatesFor('forward', 1)).toEqual(['running', 'cancelled', 'rolling_back']);
    expect(allowedStatesFor('rollback', 0)).toEqual(['rolling_back']);
    expect(allowedStatesFor('rollback', 2)).toEqual(['rolling_back']);
  });
});
