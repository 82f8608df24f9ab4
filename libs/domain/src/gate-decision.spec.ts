import fc from 'fast-check';
import { decide, p95, percentile } from './gate-decision';
import { GATE_ACTIONS, GateAction, GateResult, GateStatus } from './gates';

const result = (gate: string, status: GateStatus, action: GateAction = 'pause', value?: number): GateResult => ({
  gate,
  action,
  status,
  value,
  threshold: 1,
  reason: `${gate} is ${status}`,
});

describe('decide', () => {
  it.each([
    ['no gates', [], 'none', null, []],
    ['all ok', [result('a', 'ok', 'halt'), result('b', 'ok')], 'none', null, []],
    ['insufficient data does not stop', [result('a', 'insufficient_data', 'halt_and_rollback')], 'none', null, []],
    ['one pause breach', [result('a', 'ok'), result('b', 'breached')], 'pause', 'gate:b', ['gate_pause']],
    ['an inconclusive signal pauses', [result('s', 'inconclusive', 'halt')], 'pause', 'inconclusive:s', ['gate_pause']],
    [
      'a breach names the reason before an inconclusive gate of the same strength',
      [result('s', 'inconclusive'), result('b', 'breached')],
      'pause',
      'gate:b',
      ['gate_pause'],
    ],
    [
      'halt beats pause and inconclusive',
      [result('p', 'breached'), result('s', 'inconclusive'), result('h', 'breached', 'halt')],
      'halt',
      'gate:h',
      ['halt'],
    ],
    [
      'halt_and_rollback beats halt',
      [result('h', 'breached', 'halt'), result('r', 'breached', 'halt_and_rollback')],
      'halt_and_rollback',
      'gate:r',
      ['halt', 'rollback'],
    ],
    [
      'the first of equal breaches names the reason',
      [result('h1', 'breached', 'halt'), result('h2', 'breached', 'halt')],
      'halt',
      'gate:h1',
      ['halt'],
    ],
    [
      'an inconclusive halt_and_rollback gate only pauses',
      [result('r', 'inconclusive', 'halt_and_rollback')],
      'pause',
      'inconclusive:r',
      ['gate_pause'],
    ],
  ] as const)('%s', (_case, results, action, pauseReason, commands) => {
    const decision = decide(results);
    expect(decision.action).toBe(action);
    expect(decision.pauseReason).toBe(pauseReason);
    expect(decision.commands).toEqual(commands);
  });

  it('lists breaches, inconclusive gates and every value for the audit log', () => {
    const results = [
      result('a', 'ok', 'pause', 0.01),
      result('b', 'breached', 'halt', 0.5),
      result('c', 'inconclusive'),
    ];
    const decision = decide(results);
    expect(decision.breached.map((r) => r.gate)).toEqual(['b']);
    expect(decision.inconclusive.map((r) => r.gate)).toEqual(['c']);
    expect(decision.detail).toEqual([
      { gate: 'a', status: 'ok', value: 0.01, threshold: 1, control: undefined, reason: 'a is ok' },
      { gate: 'b', status: 'breached', value: 0.5, threshold: 1, control: undefined, reason: 'b is breached' },
      {
        gate: 'c',
        status: 'inconclusive',
        value: undefined,
        threshold: 1,
        control: undefined,
        reason: 'c is inconclusive',
      },
    ]);
  });

  const RANK = { none: 0, pause: 1, halt: 2, halt_and_rollback: 3 };
  it('property: the action is the strongest breach, at least a pause when anything is inconclusive', () => {
    const arbitraryResults = fc
      .array(
        fc.record({
          status: fc.constantFrom<GateStatus>('ok', 'breached', 'insufficient_data', 'inconclusive'),
          action: fc.constantFrom(...GATE_ACTIONS),
        }),
        { maxLength: 8 },
      )
      .map((rows) => rows.map(({ status, action }, i) => result(`g${i}`, status, action)));
    fc.assert(
      fc.property(arbitraryResults, (results) => {
        const decision = decide(results);
        const strongestBreach = Math.max(
          0,
          ...results.filter((r) => r.status === 'breached').map((r) => RANK[r.action]),
        );
        const anyInconclusive = results.some((r) => r.status === 'inconclusive');
        const expected = Math.max(strongestBreach, anyInconclusive ? 1 : 0);
        return RANK[decision.action] === expected && (decision.pauseReason === null) === (expected === 0);
      }),
    );
  });
});

describe('percentile and p95', () => {
  const oneTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1);
  it.each([
    [[], null],
    [[42], 42],
    [oneTo(20), 19],
    [oneTo(21), 20],
    [oneTo(100), 95],
    [oneTo(101), 96],
    [[300, 100, 200], 300],
    [[5, Number.NaN, Number.POSITIVE_INFINITY, 3], 5],
  ])('p95(%j) = %p', (values, expected) => {
    expect(p95(values)).toBe(expected);
  });

  it('does not reorder its input', () => {
    const values = [3, 1, 2];
    p95(values);
    expect(values).toEqual([3, 1, 2]);
  });

  it.each([
    [50, 2],
    [100, 4],
    [1, 1],
    [25, 1],
    [26, 2],
  ])('percentile(%p) of 1..4 = %p', (q, expected) => {
    expect(percentile([4, 3, 2, 1], q)).toBe(expected);
  });

  it.each([0, -5, 100.5, Number.NaN])('refuses percentile %p', (q) => {
    expect(() => percentile([1], q)).toThrow(RangeError);
  });

  it('property: p95 is an observed value with at least 95 % of the values at or below it', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 10_000 }), { minLength: 1, maxLength: 300 }), (values) => {
        const p = p95(values)!;
        const atOrBelow = values.filter((v) => v <= p).length;
        const below = values.filter((v) => v < p).length;
        return values.includes(p) && atOrBelow >= 0.95 * values.length && below < 0.95 * values.length;
      }),
    );
  });
});
