import { singleFlight } from './single-flight';

describe('singleFlight: one timer round at a time', () => {
  it('skips ticks while a round runs, runs again after it ended, and settled() waits for the round in progress', async () => {
    let started = 0;
    const releases: (() => void)[] = [];
    const rounds = singleFlight(() => {
      started++;
      return new Promise<void>((resolve) => releases.push(resolve));
    });
    rounds.tick();
    rounds.tick(); // a slow round: these ticks add nothing
    rounds.tick();
    expect(started).toBe(1);
    let settled = false;
    const waiting = rounds.settled().then(() => (settled = true));
    await Promise.resolve();
    expect(settled).toBe(false);
    releases[0]();
    await waiting;
    expect(settled).toBe(true);
    rounds.tick();
    expect(started).toBe(2);
    releases[1]();
    await rounds.settled();
    await expect(rounds.settled()).resolves.toBeUndefined(); // nothing in progress
  });

  it('a failed round does not stop the next one (the caller reports its failure)', async () => {
    let started = 0;
    const rounds = singleFlight(() => {
      started++;
      return Promise.reject(new Error('PostgreSQL away'));
    });
    rounds.tick();
    await expect(rounds.settled()).rejects.toThrow('PostgreSQL away');
    rounds.tick();
    expect(started).toBe(2);
    await rounds.settled().catch(() => undefined);
  });
});
