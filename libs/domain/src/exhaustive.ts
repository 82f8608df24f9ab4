/**
 * The end of an exhaustive switch over a const union: it compiles only while every member has its case, so a new
 * code (a batch kind, an item status) cannot be forgotten by a switch that handles it.
 */
export function assertNever(value: never, what = 'value'): never {
  throw new TypeError(`unexpected ${what}: ${JSON.stringify(value)}`);
}
