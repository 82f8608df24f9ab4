import { ValidateBy, ValidationArguments } from 'class-validator';

/**
 * A relation between two settings, checked with the rest at boot (class-validator's ValidateBy): the decorated value
 * must be at least `other` plus `plusMs`. While `other` is itself invalid its own message says so, and this one stays
 * quiet. Put it first (above the property's own checks): with stopAtFirstError, the decorator nearest the property runs
 * first, so a value that is not a number is named as such rather than as too small.
 */
export function AtLeast<T extends object>(other: keyof T & string, plusMs: number, why: string): PropertyDecorator {
  const bound = (args: ValidationArguments): number | null => {
    const value = (args.object as Record<string, unknown>)[other];
    return typeof value === 'number' && Number.isFinite(value) ? value + plusMs : null;
  };
  return ValidateBy({
    name: 'atLeast',
    constraints: [other, plusMs],
    validator: {
      validate: (value: unknown, args?: ValidationArguments) => {
        const min = args ? bound(args) : null;
        return min === null || (typeof value === 'number' && value >= min);
      },
      defaultMessage: (args?: ValidationArguments) =>
        `${args?.property} must be at least ${other}${plusMs ? ` + ${plusMs}` : ''} (${args ? bound(args) : '?'} here): ${why}`,
    },
  });
}
