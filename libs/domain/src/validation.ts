/**
 * Field-level validation vocabulary shared by the domain validators (ramp steps, gates) and the API, which
 * turns a list of these into one `application/problem+json` answer naming every offending field.
 */

export interface FieldError {
  /** Path of the offending field as the API names it: `steps[1].percent`, `gates[0].windowSeconds`. */
  field: string;
  /** A full sentence that starts with the field path: `steps[1].percent must be greater than 1`. */
  message: string;
}

/** Collects errors whose message starts with the field path, so every message reads on its own in a 400 body. */
export class FieldErrors {
  readonly errors: FieldError[] = [];

  add(field: string, rest: string): void {
    this.errors.push({ field, message: `${field} ${rest}` });
  }

  /** Integer check with inclusive bounds; returns whether it passed so callers can chain dependent checks. */
  integerIn(field: string, value: unknown, min: number, max: number): value is number {
    if (typeof value !== 'number' || !Number.isInteger(value)) {
      this.add(field, 'must be an integer');
      return false;
    }
    if (value < min || value > max) {
      this.add(field, value < min ? `must be ≥ ${min}` : `must be ≤ ${max}`);
      return false;
    }
    return true;
  }

  finite(field: string, value: unknown): value is number {
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      this.add(field, 'must be a number');
      return false;
    }
    return true;
  }

  oneOf<T extends string>(field: string, value: unknown, allowed: readonly T[]): value is T {
    if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
      this.add(field, `must be one of ${allowed.map((a) => `'${a}'`).join(', ')}`);
      return false;
    }
    return true;
  }
}

/** A non-blank string without whitespace or control characters, at most `max` long (names, keys, cohorts). */
export function isToken(value: unknown, max = 128): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= max && /^[\x21-\x7e]+$/.test(value);
}
