import { FieldErrors, isToken } from './validation';

describe('FieldErrors', () => {
  it.each([
    [5, 1, 10, true, []],
    [1, 1, 10, true, []],
    [10, 1, 10, true, []],
    [0, 1, 10, false, ['x must be ≥ 1']],
    [11, 1, 10, false, ['x must be ≤ 10']],
    [1.5, 1, 10, false, ['x must be an integer']],
    ['5', 1, 10, false, ['x must be an integer']],
    [undefined, 1, 10, false, ['x must be an integer']],
  ])('integerIn(%p, %p..%p) -> %p', (value, min, max, ok, messages) => {
    const errors = new FieldErrors();
    expect(errors.integerIn('x', value, min, max)).toBe(ok);
    expect(errors.errors.map((e) => e.message)).toEqual(messages);
    expect(errors.errors.every((e) => e.field === 'x')).toBe(true);
  });

  it.each([
    [0, true],
    [-1.5, true],
    [Number.NaN, false],
    [Number.POSITIVE_INFINITY, false],
    ['1', false],
    [null, false],
  ])('finite(%p) -> %p', (value, ok) => {
    const errors = new FieldErrors();
    expect(errors.finite('y', value)).toBe(ok);
    expect(errors.errors).toEqual(ok ? [] : [{ field: 'y', message: 'y must be a number' }]);
  });

  it.each([
    ['a', true],
    ['c', false],
    [1, false],
  ])('oneOf(%p) -> %p', (value, ok) => {
    const errors = new FieldErrors();
    expect(errors.oneOf('z', value, ['a', 'b'] as const)).toBe(ok);
    expect(errors.errors).toEqual(ok ? [] : [{ field: 'z', message: "z must be one of 'a', 'b'" }]);
  });

  it('keeps every error in order', () => {
    const errors = new FieldErrors();
    errors.add('a', 'is wrong');
    errors.integerIn('b', 0, 1, 2);
    expect(errors.errors).toEqual([
      { field: 'a', message: 'a is wrong' },
      { field: 'b', message: 'b must be ≥ 1' },
    ]);
  });
});

describe('isToken', () => {
  it.each([
    ['health', true],
    ['failed_logins/min', true],
    ['x'.repeat(128), true],
    ['x'.repeat(129), false],
    ['', false],
    ['two words', false],
    ['tab\t', false],
    ['café', false],
    [42, false],
    [undefined, false],
  ])('%p -> %p', (value, expected) => {
    expect(isToken(value)).toBe(expected);
  });
});
