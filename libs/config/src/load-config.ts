import { EnvironmentDto, rememberEnvironment } from './env.dto';
import { ConfigError, readSettings } from './settings';

export { ConfigError } from './settings';

/**
 * Reads the known variables from `env` (unset or empty ones keep their defaults) and validates them: the configuration,
 * and every problem found (each names its variable; none when the configuration is valid). The mailstore driver's
 * own variables are read and checked by the driver (createMailstore, at boot: libs/mailstore drivers/registry.ts).
 */
export function checkConfig(env: NodeJS.ProcessEnv = process.env): { config: EnvironmentDto; problems: string[] } {
  const { settings: config, problems } = readSettings(EnvironmentDto, env);
  rememberEnvironment(config, env);
  return { config, problems };
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
