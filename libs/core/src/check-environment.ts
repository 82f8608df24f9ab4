import { ApiSettings, checkConfig, ConfigError, EnvironmentDto, readSettings } from '@app/config';
import { readDriverSettings, type Probe } from '@app/mailstore';
import { createMailstore } from './core-graph';

export interface EnvironmentCheck {
  /** MAILSTORE_DRIVER as read (the default when unset). */
  driver: string;
  /** Every problem found, each naming its variable, never a secret (none: the processes start). */
  problems: string[];
  /** With `probe` and no problem: the mailstore as the driver reaches it (the API's dependency report's answer). */
  probe?: Probe;
}

/**
 * Every variable a process would refuse to start on, in one list, building and connecting nothing: the service's own
 * (libs/config), the API's limits when `api` (the worker does not read them), and the chosen mailstore driver's (its
 * settings class; an unknown driver is named with the choices).
 */
export function environmentProblems(
  env: NodeJS.ProcessEnv,
  options: { api: boolean },
): { config: EnvironmentDto; problems: string[]; driverRead: boolean } {
  const { config, problems } = checkConfig(env);
  if (options.api) problems.push(...readSettings(ApiSettings, env).problems);
  const driver = readDriverSettings(config.MAILSTORE_DRIVER, env).problems;
  problems.push(...driver);
  return { config, problems, driverRead: driver.length === 0 };
}

/** For the API's and the worker's entry points: the configuration, or every problem printed and exit(1). */
export function loadEnvironmentOrExit(
  process_: 'api' | 'worker',
  env: NodeJS.ProcessEnv = process.env,
): EnvironmentDto {
  const { config, problems } = environmentProblems(env, { api: process_ === 'api' });
  if (problems.length === 0) return config;
  process.stderr.write(`${new ConfigError(problems).message}\n`);
  process.exit(1);
}

/**
 * The environment as the API and the worker read it at boot, every problem at once (environmentProblems, the API's
 * included), then what only the driver checks as it is built (dovecot-sql's identifiers). With `probe` and no
 * problem, the driver is asked whether its backend answers (Mailstore.probe: the passdb, the directory, doveadm, the
 * contract), with one connection, and closed. `reopen-admin check-config`, the night before.
 */
export async function checkEnvironment(
  env: NodeJS.ProcessEnv,
  options: { probe?: boolean } = {},
): Promise<EnvironmentCheck> {
  const { config, problems, driverRead } = environmentProblems(env, { api: true });
  const driver = config.MAILSTORE_DRIVER;
  // The driver's own checks need its settings read: skipped when they are wrong (an unknown driver too), each named.
  if (!driverRead) return { driver, problems };
  const named = (p: string) => problems.some((q) => q.split(' ')[0] === p.split(' ')[0]);
  let mailstore;
  try {
    mailstore = createMailstore(config, 1);
  } catch (err) {
    if (err instanceof ConfigError)
      return { driver, problems: [...problems, ...err.problems.filter((p) => !named(p))] };
    if (problems.length > 0) return { driver, problems }; // built from a configuration refused already
    throw err;
  }
  try {
    if (problems.length > 0 || !options.probe) return { driver, problems };
    return { driver, problems, probe: await mailstore.probe() };
  } finally {
    await mailstore.destroy();
  }
}
