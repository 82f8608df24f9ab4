import { FaultConfigError, mergeFaultConfig, validateFaultConfig } from './fault-config';
import { DEFAULT_HANG_MS, FaultInjector, seededRandom } from './faults';
import type { Endpoint, FaultKind } from './sim.types';

function picks(injector: FaultInjector, endpoint: Endpoint, n: number): FaultKind[] {
  return Array.from({ length: n }, () => injector.pick(endpoint));
}

describe('FaultInjector', () => {
  it('answers ok for everything when nothing is configured', () => {
    const injector = new FaultInjector();
    expect(picks(injector, 'batch', 100).every((k) => k === 'ok')).toBe(true);
    expect(injector.latencyMs('batch')).toBe(0);
    expect(injector.unreachable).toBe(false);
  });

  it('consumes the script one entry per eligible request, in order, before any rate', () => {
    const injector = new FaultInjector({ script: ['503', 'ok', 'hang'], rate500: 1 });
    expect(picks(injector, 'batch', 4)).toEqual(['503', 'ok', 'hang', '500']);
  });

  it('leaves capabilities alone by default and consumes nothing for it', () => {
    const injector = new FaultInjector({ script: ['429'], rate503: 1 });
    expect(injector.pick('capabilities')).toBe('ok');
    expect(injector.pick('other')).toBe('ok');
    expect(injector.pick('get')).toBe('429');
  });

  it('restricts faults to the configured endpoints', () => {
    const injector = new FaultInjector({ script: ['500', '500'], endpoints: ['capabilities', 'patch'] });
    expect(injector.pick('batch')).toBe('ok');
    expect(injector.pick('capabilities')).toBe('500');
    expect(injector.pick('patch')).toBe('500');
    expect(injector.latencyMs('batch')).toBe(0);
  });

  it('draws the rates from a seeded PRNG: the same seed gives the same faults', () => {
    const config = { rate429: 0.1, rate503: 0.2, rate500: 0.1, rateHang: 0.05, rateDropAfterApply: 0.05, seed: 42 };
    const a = picks(new FaultInjector(config), 'batch', 500);
    const b = picks(new FaultInjector(config), 'batch', 500);
    expect(a).toEqual(b);
    expect(a).not.toEqual(picks(new FaultInjector({ ...config, seed: 43 }), 'batch', 500));
  });

  it('injects each fault at roughly its rate', () => {
    const injector = new FaultInjector({ rate429: 0.2, rate503: 0.3, seed: 7 });
    const draws = picks(injector, 'patch', 20_000);
    const share = (kind: FaultKind): number => draws.filter((k) => k === kind).length / draws.length;
    expect(share('429')).toBeCloseTo(0.2, 1);
    expect(share('503')).toBeCloseTo(0.3, 1);
    expect(share('ok')).toBeCloseTo(0.5, 1);
    expect(share('500')).toBe(0);
  });

  it('adds latency with jitter within bounds', () => {
    const injector = new FaultInjector({ latencyMs: 100, latencyJitterMs: 50, seed: 1 });
    const latencies = Array.from({ length: 200 }, () => injector.latencyMs('get'));
    expect(Math.min(...latencies)).toBeGreaterThanOrEqual(100);
    expect(Math.max(...latencies)).toBeLessThanOrEqual(150);
    expect(new Set(latencies).size).toBeGreaterThan(10);
  });

  it('shows the remaining script and the defaults it falls back to', () => {
    const injector = new FaultInjector({ script: ['429', '503'], notFoundAccounts: ['x@y'] });
    injector.pick('batch');
    expect(injector.current()).toEqual({ script: ['503'], notFoundAccounts: ['x@y'] });
    expect(injector.hangMs).toBe(DEFAULT_HANG_MS);
    expect(injector.retryAfterSeconds).toBe(1);
    expect(injector.isNotFound('x@y')).toBe(true);
    expect(injector.isNotFound('z@y')).toBe(false);
  });

  it('set() replaces everything and restarts the script', () => {
    const injector = new FaultInjector({ script: ['429'], conflictAccounts: ['a@b'] });
    injector.set({ script: ['500'] });
    expect(injector.isConflict('a@b')).toBe(false);
    expect(injector.pick('sessions')).toBe('500');
  });
});

describe('seededRandom', () => {
  it('returns numbers in [0, 1)', () => {
    const random = seededRandom(123);
    const values = Array.from({ length: 1000 }, random);
    expect(values.every((v) => v >= 0 && v < 1)).toBe(true);
  });
});

describe('validateFaultConfig', () => {
  it('accepts a full configuration unchanged', () => {
    const config = {
      latencyMs: 10,
      latencyJitterMs: 5,
      rate429: 0.1,
      rate503: 0.1,
      rate500: 0.1,
      rateHang: 0.1,
      rateDropAfterApply: 0.1,
      retryAfterSeconds: 3,
      hangMs: 100,
      unreachable: false,
      notFoundAccounts: ['a@b'],
      conflictAccounts: ['c@d'],
      endpoints: ['batch' as const],
      script: ['ok' as const, 'drop_after_apply' as const],
      seed: 9,
    };
    expect(validateFaultConfig(config)).toEqual(config);
  });

  it.each([
    [{ rate503: 1.5 }, /rate503/],
    [{ rate429: 0.6, rate503: 0.6 }, /add up/],
    [{ latencyMs: -1 }, /latencyMs/],
    [{ retryAfterSeconds: 0 }, /retryAfterSeconds/],
    [{ endpoints: ['login'] }, /endpoints/],
    [{ script: ['502'] }, /script/],
    [{ notFoundAccounts: 'a@b' }, /notFoundAccounts/],
    [{ rate503s: 0.1 }, /rate503s/],
    [{ unreachable: 'yes' }, /unreachable/],
    [[], /object/],
  ])('refuses %j', (value, message) => {
    expect(() => validateFaultConfig(value)).toThrow(FaultConfigError);
    expect(() => validateFaultConfig(value)).toThrow(message);
  });
});

describe('mergeFaultConfig', () => {
  it('replaces given fields, removes null ones and keeps the rest', () => {
    const merged = mergeFaultConfig(
      { rate503: 0.5, latencyMs: 20, script: ['429'] },
      { rate503: null, script: ['500'] },
    );
    expect(merged).toEqual({ latencyMs: 20, script: ['500'] });
  });

  it('validates the merged result', () => {
    expect(() => mergeFaultConfig({ rate429: 0.8 }, { rate503: 0.5 })).toThrow(/add up/);
  });
});
