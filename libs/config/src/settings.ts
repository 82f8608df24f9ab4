import 'reflect-metadata';
import { plainToInstance, Transform } from 'class-transformer';
import { IsInt, Max, Min, validateSync, ValidationError } from 'class-validator';

export class ConfigError extends Error {
  /** The operator fixes it (startup-failure.ts): the problems are all a process prints, no stack. */
  readonly operatorFix = true;

  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

/** A variable's text as a number ('' and non-strings left as they are, for the validators to name). */
export const toNumber = ({ value }: { value: unknown }) =>
  typeof value === 'string' && value.trim() !== '' ? Number(value) : value;

/** An integer setting within bounds, one message for every way to miss them ('x', 0, 1.5: the same line). */
export function IntegerFrom(min: number, max: number): PropertyDecorator {
  return (target, key) => {
    const message = `${String(key)} must be an integer from ${min} to ${max}`;
    // Registered in this order, checked in this order (stopAtFirstError): 'x' is named as not an integer.
    for (const d of [IsInt({ message }), Min(min, { message }), Max(max, { message })]) d(target, key);
    Transform(toNumber)(target, key);
  };
}

function describe(errors: ValidationError[]): string[] {
  return errors.flatMap((e) =>
    Object.values(e.constraints ?? {}).map((message) =>
      message.startsWith(e.property) ? message : `${e.property}: ${message}`,
    ),
  );
}

/**
 * The variables a settings class declares (its properties, with their defaults), read from `env` (unset or empty ones
 * keep their defaults) and validated: the settings, and every problem found, each naming its variable. The one reader
 * of the process environment: the service's own settings (EnvironmentDto) and each mailstore driver's
 * (libs/mailstore/src/drivers/registry.ts).
 */
export function readSettings<T extends object>(
  Settings: new () => T,
  env: Readonly<Record<string, string | undefined>>,
): { settings: T; problems: string[] } {
  const given: Record<string, string> = {};
  for (const key of Object.keys(new Settings())) {
    const value = env[key];
    if (value !== undefined && value !== '') given[key] = value;
  }
  const settings = plainToInstance(Settings, given, { exposeDefaultValues: true });
  const errors = validateSync(settings, { whitelist: true, forbidUnknownValues: true, stopAtFirstError: true });
  return { settings, problems: describe(errors) };
}
