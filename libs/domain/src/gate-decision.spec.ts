import fc from 'fast-check';
import { decide } from './gate-decision';
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
