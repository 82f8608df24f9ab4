import 'reflect-metadata';
import { plainToInstance } from 'class-transformer';
import { validateSync, ValidationError } from 'class-validator';
import { EnvironmentDto } from './env.dto';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

function describe(errors: ValidationError[]): string[] {
  return errors.flatMap((e) =>
    Object.values(e.constraints ?? {}).map((message) =>
      message.startsWith(e.property) ? message : `${e.property}: ${message}`,
    ),
  );
}

/**
 * Reads the known variables from `env` (unset or empty ones keep their defaults) and validates them: the configuration,
 * and every problem found (each names its variable; none when the configuration is valid).
 */
export function checkConfig(env: NodeJS.ProcessEnv = process.env): { config: EnvironmentDto; problems: string[] } {
  const known = Object.keys(new EnvironmentDto());
  const given: Record<string, string> = {};
  for (const key of known) {
    const value = env[key];
    if (value !== undefined && value !== '') given[key] = value;
  }
  const config = plainToInstance(EnvironmentDto, given, { exposeDefaultValues: true });
  const errors = validateSync(config, { whitelist: true, forbidUnknownValues: true, stopAtFirstError: true });
  return { config, problems: describe(errors) };
}

/** The validated configuration; a ConfigError naming every bad variable otherwise (callers at boot print it, exit 1). */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): EnvironmentDto {
  const { config, problems } = checkConfig(env);
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** For process entry points: load or print the problems and exit(1). */
export function loadConfigOrExit(env: NodeJS.ProcessEnv = process.env): EnvironmentDto {
  try {
    return loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}
