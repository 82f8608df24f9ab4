import { Pacer } from './pacer';

const LIMITS = { requestsPerSecond: 10, requestBurst: 10, accountUpdatesPerSecond: 100, accountUpdateBurst: 100 };

function fakeTime() {
  const clock = { t: 0 };
  const sleeps: number[] = [];
  return {
    clock,
    sleeps,
    now: () => clock.t,
    sleep: async (ms: number) => {
      sleeps.push(ms);
      clock.t += ms;
    },
  };
}

describe('Pacer', () => {
  it('keeps requests at the safety factor of the advertised rate after the burst', async () => {
    const time = fakeTime();
    const pacer = new Pacer({ rateLimits: LIMITS, safetyFactor: 0.9, now: time.now, sleep: time.sleep });
    for (let i = 0; i < 9 + 90; i++) await pacer.acquire({ requests: 1, updates: 0 });
    // Burst of 9 (0.9 × 10), then 90 more at 9/s = 10 s.
    expect(time.clock.t).toBeCloseTo(10_000, -1);
  });

  it('charges a batch of N as N account updates', async () => {
    const time = fakeTime();
    const pacer = new Pacer({ rateLimits: LIMITS, safetyFactor: 1, now: time.now, sleep: time.sleep });
    await pacer.acquire({ requests: 1, updates: 100 });
    await pacer.acquire({ requests: 1, updates: 50 });
    expect(time.clock.t).toBeCloseTo(500);
  });

  it('gives tokens back when aborted while waiting', async () => {
    const time = fakeTime();
    const pacer = new Pacer({ rateLimits: LIMITS, safetyFactor: 1, now: time.now, sleep: time.sleep });
    await pacer.acquire({ requests: 1, updates: 100 });
    const controller = new AbortController();
    controller.abort();
    expect(await pacer.acquire({ requests: 1, updates: 100 }, controller.signal)).toBe(false);
    expect(pacer.updates.available()).toBeCloseTo(0);
  });

  it('a 429 on account updates blocks that bucket only', () => {
    const time = fakeTime();
    const pacer = new Pacer({ rateLimits: LIMITS, now: time.now, sleep: time.sleep });
    pacer.penalize('account-updates', 3_000);
    expect(pacer.updates.reserve(1)).toBeGreaterThanOrEqual(3_000);
    expect(pacer.requests.reserve(1)).toBe(0);
    pacer.penalize(undefined, 1_000);
    expect(pacer.requests.reserve(1)).toBeGreaterThanOrEqual(1_000);
  });

  it('refuses a safety factor outside (0, 1]', () => {
    expect(() => new Pacer({ rateLimits: LIMITS, safetyFactor: 1.5 })).toThrow(RangeError);
  });
});
