import fc from 'fast-check';
import { HIDDEN_ADDRESS, hideAddresses, hideLogins, selectorView } from './redaction';

describe('selectorView', () => {
  const list = { type: 'logins', logins: ['a@example.test', 'b@example.test', 'c@example.test'] };

  it('gives readers who may not see addresses the count of an explicit list, never the list', () => {
    expect(selectorView(list, false)).toEqual({ type: 'logins', loginCount: 3 });
  });

  it('gives the others the list and its count', () => {
    expect(selectorView(list, true)).toEqual({ ...list, loginCount: 3 });
  });

  it.each([
    [
      { type: 'cohorts', cohorts: ['health'] },
      { type: 'cohorts', cohorts: ['health'] },
    ],
    [{ type: 'remaining' }, { type: 'remaining' }],
  ])('leaves a selector without logins as it is (%j)', (selector, view) => {
    expect(selectorView(selector, false)).toEqual(view);
    expect(selectorView(selector, true)).toEqual(view);
  });
});

describe('hideAddresses', () => {
  it.each([
    ['alice@example.test', HIDDEN_ADDRESS],
    ['Dr.O+claims@cabinet-medical.fr', HIDDEN_ADDRESS],
    ['mismatch for alice@example.test, bob@example.test.', `mismatch for ${HIDDEN_ADDRESS}, ${HIDDEN_ADDRESS}.`],
    ['ops:alice@corp', `ops:${HIDDEN_ADDRESS}`],
    ['<élise@exemple.fr>', `<${HIDDEN_ADDRESS}>`],
    ['"quoted@x"', `"${HIDDEN_ADDRESS}"`],
  ])('hides the address in %j', (text, hidden) => expect(hideAddresses(text)).toBe(hidden));

  it.each(['gate:provider-errors', 'paused: the mailstore is unreachable (timeout)', '@', 'a@', '@b', ''])(
    'leaves %j alone',
    (text) => expect(hideAddresses(text)).toBe(text),
  );

  it('reads crafted text in one pass (no regular-expression backtracking)', () => {
    const crafted = `${'x'.repeat(100_000)}@${'.'.repeat(100_000)}`;
    expect(hideAddresses(crafted)).toBe(crafted); // nothing after the @ but full stops: not an address
    expect(hideAddresses('a@b@c')).toBe(`${HIDDEN_ADDRESS}@c`);
  });

  it('hides addresses at any depth and keeps shapes, numbers, nulls and Dates', () => {
    const at = new Date('2026-05-09T08:00:00Z');
    const detail = {
      verification: {
        checked: 50,
        mismatches: [
          { login: 'a@example.test', protocols: { imap: false } },
          { login: 'b@example.test', protocols: { imap: false } },
        ],
        done: true,
        dueAt: at,
      },
      note: null,
    };
    expect(hideAddresses(detail)).toEqual({
      verification: {
        checked: 50,
        mismatches: [
          { login: HIDDEN_ADDRESS, protocols: { imap: false } },
          { login: HIDDEN_ADDRESS, protocols: { imap: false } },
        ],
        done: true,
        dueAt: at,
      },
      note: null,
    });
    expect(detail.verification.mismatches[0].login).toBe('a@example.test'); // the input is not changed
  });

  it('keeps one entry per address used as a key, and a __proto__ key as a key', () => {
    const byLogin = JSON.parse('{"a@x.test": 1, "b@x.test": 2, "__proto__": {"c@x.test": 3}}') as object;
    const hidden = hideAddresses(byLogin) as Record<string, unknown>;
    expect(Object.keys(hidden)).toEqual([HIDDEN_ADDRESS, `${HIDDEN_ADDRESS} (2)`, '__proto__']);
    expect(Object.getPrototypeOf(hidden)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(hidden, '__proto__')?.value).toEqual({ [HIDDEN_ADDRESS]: 3 });
  });

  it('returns the value itself when it holds no address (callers reuse what they serialized)', () => {
    const view = { name: 'health', gates: [{ reason: 'ok' }], at: new Date(0), n: 1 };
    expect(hideAddresses(view)).toBe(view);
  });

  it('never leaves an address in the JSON of any value (property)', () => {
    const address = fc
      .tuple(fc.stringMatching(/^[a-z0-9.+_-]{1,12}$/), fc.stringMatching(/^[a-z0-9-]{1,10}\.[a-z]{2,4}$/))
      .map(([local, domain]) => `${local}@${domain}`);
    const text = fc.oneof(
      address,
      fc.string(),
      fc.tuple(fc.string(), address, fc.string()).map((p) => p.join(' ')),
    );
    const json = fc.letrec((tie) => ({
      value: fc.oneof({ depthSize: 'small' }, text, fc.integer(), fc.constant(null), tie('array'), tie('object')),
      array: fc.array(tie('value'), { maxLength: 4 }),
      object: fc.dictionary(text, tie('value'), { maxKeys: 4 }),
    })).value;
    fc.assert(
      fc.property(json, (value) => {
        expect(JSON.stringify(hideAddresses(value))).not.toMatch(/[a-z0-9.+_-]@[a-z0-9-]+\.[a-z]{2,4}/);
      }),
    );
  });
});

describe('hideLogins', () => {
  it('turns lists into counts and hides logins, addresses or not, and both sides of a change of one', () => {
    const at = new Date(0);
    const view = {
      plan: { selector: { type: 'logins', logins: ['jdoe', 'b@example.test'] }, name: 'for c@example.test' },
      args: { login: 'jdoe', reason: 'asked', held: true },
      changes: [
        { field: 'plan.selector.logins[1]', before: 'kroe', after: 'jdoe' },
        { field: 'plan.rate_per_second', before: 1, after: 2 },
      ],
      at,
    };
    expect(hideLogins(view)).toEqual({
      plan: { selector: { type: 'logins', loginCount: 2 }, name: `for ${HIDDEN_ADDRESS}` },
      args: { login: HIDDEN_ADDRESS, reason: 'asked', held: true },
      changes: [
        { field: 'plan.selector.logins[1]', before: HIDDEN_ADDRESS, after: HIDDEN_ADDRESS },
        { field: 'plan.rate_per_second', before: 1, after: 2 },
      ],
      at,
    });
  });
});
