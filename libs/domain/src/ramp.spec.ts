import fc from 'fast-check';
import {
  batchCount,
  MAX_BAKE_SECONDS,
  MAX_STEPS,
  normalizeSteps,
  RampStep,
  stepLimits,
  totalBakeSeconds,
  validateSteps,
} from './ramp';

const step = (percent: number, bakeSeconds = 0): RampStep => ({ percent, bakeSeconds });
const CANARY = [step(1, 1800), step(10, 1800), step(100)];

describe('validateSteps', () => {
  it.each([
    ['no steps', []],
    ['one full step', [step(100)]],
    ['the brief example', CANARY],
    ['fractional percents', [step(0.01, 60), step(12.5, 60), step(100)]],
    ['the longest bake', [step(50, MAX_BAKE_SECONDS), step(100)]],
  ])('accepts %s', (_case, steps) => {
    expect(validateSteps(steps)).toEqual([]);
  });

  it.each([
    [
      'not increasing',
      [step(1), step(1), step(100)],
      [['steps[1].percent', 'steps[1].percent must be greater than 1']],
    ],
    ['decreasing', [step(50), step(10), step(100)], [['steps[1].percent', 'steps[1].percent must be greater than 50']]],
    ['last below 100', [step(1), step(50)], [['steps[1].percent', 'steps[1].percent must be 100 on the last step']]],
    [
      'zero percent',
      [step(0), step(100)],
      [['steps[0].percent', 'steps[0].percent must be greater than 0 and at most 100']],
    ],
    [
      'negative',
      [step(-5), step(100)],
      [['steps[0].percent', 'steps[0].percent must be greater than 0 and at most 100']],
    ],
    ['above 100', [step(100.01)], [['steps[0].percent', 'steps[0].percent must be greater than 0 and at most 100']]],
    [
      'three decimals',
      [step(0.001), step(100)],
      [['steps[0].percent', 'steps[0].percent must have at most two decimals']],
    ],
    ['NaN', [step(Number.NaN), step(100)], [['steps[0].percent', 'steps[0].percent must be a number']]],
    [
      'string percent',
      [{ percent: '5', bakeSeconds: 0 }, step(100)],
      [['steps[0].percent', 'steps[0].percent must be a number']],
    ],
    ['negative bake', [step(5, -1), step(100)], [['steps[0].bakeSeconds', 'steps[0].bakeSeconds must be ≥ 0']]],
    [
      'bake too long',
      [step(5, MAX_BAKE_SECONDS + 1), step(100)],
      [['steps[0].bakeSeconds', 'steps[0].bakeSeconds must be ≤ 604800']],
    ],
    [
      'fractional bake',
      [step(5, 1.5), step(100)],
      [['steps[0].bakeSeconds', 'steps[0].bakeSeconds must be an integer']],
    ],
    [
      'bake on the last step',
      [step(5), step(100, 60)],
      [['steps[1].bakeSeconds', 'steps[1].bakeSeconds must be 0 on the last step (nothing follows it)']],
    ],
    [
      'missing step',
      [null, step(100)],
      [
        ['steps[0].percent', 'steps[0].percent must be a number'],
        ['steps[0].bakeSeconds', 'steps[0].bakeSeconds must be an integer'],
      ],
    ],
  ])('reports %s', (_case, steps, expected) => {
    expect(validateSteps(steps as RampStep[]).map((e) => [e.field, e.message])).toEqual(expected);
  });

  it('reports every error at once', () => {
    const errors = validateSteps([step(10, -1), step(5), step(50, 30)]);
    expect(errors.map((e) => e.field)).toEqual([
      'steps[0].bakeSeconds',
      'steps[1].percent',
      'steps[2].percent',
      'steps[2].bakeSeconds',
    ]);
  });

  it('limits the number of steps', () => {
    const steps = Array.from({ length: MAX_STEPS + 1 }, (_, i) => step(i + 1));
    steps[MAX_STEPS] = step(100);
    expect(validateSteps(steps)).toEqual([{ field: 'steps', message: `steps must have at most ${MAX_STEPS} steps` }]);
  });

  it('names the path it was given', () => {
    expect(validateSteps([step(50)], 'wave.steps')[0].field).toBe('wave.steps[0].percent');
  });
});

describe('stepLimits', () => {
  it.each([
    [1000, CANARY, [10, 100, 1000]],
    [1_000_000, CANARY, [10_000, 100_000, 1_000_000]],
    [1000, [], [1000]],
    [0, CANARY, [0, 0, 0]],
    [0, [], [0]],
    [1, CANARY, [1, 1, 1]],
    [3, [step(1), step(10), step(50), step(100)], [1, 2, 3, 3]],
    [50, [step(0.01), step(100)], [1, 50]],
    [101, CANARY, [2, 11, 101]], // ceil
    [1000, [step(1.1), step(100)], [11, 1000]], // 1000 × 1.1 % is exactly 11, not 12
    [999, [step(33.33), step(66.67), step(100)], [333, 667, 999]],
  ])('%i members, %j -> %j', (members, steps, expected) => {
    expect(stepLimits(members, steps)).toEqual(expected);
  });

  it.each([-1, 1.5, Number.NaN])('refuses memberCount %p', (members) => {
    expect(() => stepLimits(members, CANARY)).toThrow(RangeError);
  });

  const validSteps = fc
    .uniqueArray(fc.integer({ min: 1, max: 9_999 }), { maxLength: 8 })
    .map((bps) => [...bps.sort((a, b) => a - b).map((bp) => step(bp / 100, 60)), step(100)]);

  it('property: limits are non-decreasing, end at memberCount, and each step adds a member while any remain', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2_000_000 }), validSteps, (members, steps) => {
        expect(validateSteps(steps)).toEqual([]);
        const limits = stepLimits(members, steps);
        expect(limits).toHaveLength(steps.length);
        expect(limits[limits.length - 1]).toBe(members);
        limits.forEach((limit, i) => {
          const previous = i === 0 ? 0 : limits[i - 1];
          expect(limit >= previous).toBe(true);
          if (previous < members) expect(limit).toBeGreaterThan(previous);
          expect(limit).toBeGreaterThanOrEqual(Math.min(members, (members * steps[i].percent) / 100 - 1e-6));
        });
        expect(stepLimits(members, steps)).toEqual(limits); // deterministic
      }),
    );
  });
});

describe('batchCount and totalBakeSeconds', () => {
  it.each([
    [1000, 500, CANARY, 4, 3600], // 10 | 90 | 500 + 400
    [1000, 100, CANARY, 11, 3600],
    [1000, 500, [], 2, 0],
    [0, 500, CANARY, 0, 0],
    [2, 500, [step(1, 60), step(10, 60), step(50, 60), step(100)], 2, 60], // steps 3 and 4 are empty
    [1, 500, CANARY, 1, 0],
  ])('%i members, batches of %i -> %i batches, %i s of bake', (members, batchSize, steps, batches, bake) => {
    expect(batchCount(members, batchSize, steps)).toBe(batches);
    expect(totalBakeSeconds(members, steps)).toBe(bake);
  });

  it.each([0, -1, 2.5])('refuses batch size %p', (batchSize) => {
    expect(() => batchCount(10, batchSize, [])).toThrow(RangeError);
  });

  it('normalizes empty steps to one full step', () => {
    expect(normalizeSteps([])).toEqual([{ percent: 100, bakeSeconds: 0 }]);
    expect(normalizeSteps(CANARY)).toBe(CANARY);
  });
});
