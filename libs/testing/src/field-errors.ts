import { ValidationError } from '@app/core';

/** The fields a ValidationError thrown by `fn` names, in its order; [] when `fn` throws none. Any other error is rethrown. */
export function invalidFields(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ValidationError) return err.errors.map((e) => e.field);
    throw err;
  }
  return [];
}
