import { inspectInput } from './input-guard';

const nest = (depth: number, leaf: unknown = 1): unknown => {
  let v = leaf;
  for (let i = 0; i < depth; i++) v = [v];
  return v;
};

describe('inspectInput', () => {
  it('passes ordinary bodies, queries and parameters', () => {
    expect(inspectInput({ name: 'zoë 😀', gates: [{ relativeTo: { cohort: 'general', factor: 3 } }] })).toBeNull();
    expect(inspectInput({ limit: '5', login: ['a', 'b'] })).toBeNull();
    expect(inspectInput('user5@example.test', 'login')).toBeNull();
    expect(inspectInput(undefined)).toBeNull();
  });

  it('names the path where nesting passes the bound, however deep the body goes (no recursion)', () => {
    const limits = { maxDepth: 4, maxNodes: 100 };
    expect(inspectInput({ a: nest(3) }, '', limits)).toBeNull();
    expect(inspectInput({ a: nest(4) }, '', limits)).toEqual({
      field: 'a[0][0][0]',
      message: 'a[0][0][0] is nested deeper than 4 levels',
    });
    const deep = inspectInput({ name: 'x', steps: nest(200_000) });
    expect(deep?.field).toBe(`steps${'[0]'.repeat(31)}`);
    expect(deep?.message).toMatch(/is nested deeper than 32 levels$/);
    let objects: unknown = {};
    for (let i = 0; i < 100; i++) objects = { x: objects };
    expect(inspectInput(objects)?.field).toBe(Array(32).fill('x').join('.'));
    expect(inspectInput(nest(40))?.field).toBe('[0]'.repeat(32));
  });

  it('bounds the number of values', () => {
    const limits = { maxDepth: 32, maxNodes: 10 };
    expect(inspectInput({ logins: Array(8).fill('a') }, '', limits)).toBeNull();
    expect(inspectInput({ logins: Array(9).fill('a') }, '', limits)).toEqual({
      field: 'body',
      message: 'body has more than 10 values',
    });
  });

  it('names the string that PostgreSQL could not store, in bodies, arrays, keys and parameters', () => {
    expect(inspectInput({ reason: 'a\u0000b', ticket: 'T' })).toEqual({
      field: 'reason',
      message: 'reason must not contain a NUL character (U+0000, at position 1)',
    });
    expect(inspectInput({ selector: { type: 'logins', logins: ['a@b.c', 'x\ud800'] } })).toEqual({
      field: 'selector.logins[1]',
      message: 'selector.logins[1] must be valid Unicode text (lone surrogate at position 1)',
    });
    expect(inspectInput({ ['na\u0000me']: 1 })?.field).toBe('na\u0000me');
    expect(inspectInput({ login: ['ok', '\udc00'] })?.field).toBe('login[1]');
    expect(inspectInput('a\u0000', 'login')).toEqual({
      field: 'login',
      message: 'login must not contain a NUL character (U+0000, at position 1)',
    });
    expect(inspectInput('\u0000')?.field).toBe('body');
  });

  it('names the first offending field in the order it was written', () => {
    expect(inspectInput({ a: 'ok', b: ['\u0000'], c: '\u0000' })?.field).toBe('b[0]');
  });
});
