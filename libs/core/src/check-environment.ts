import { checkConfig, ConfigError } from '@app/config';
import { readDriverSettings, type Probe } from '@app/mailstore';
import { createMailstore } from './core-graph';

export interface EnvironmentCheck {
  /** MAILSTORE_DRIVER as read (the default when unset). */
  driver: string;
  /** Every problem the API and the worker would refuse to start on, each naming its variable (none: they start). */
  problems: string[];
  /** With `probe` and no problem: the mailstore as the driver reaches it (the API's dependency report's answer). */
  probe?: Probe;
}

/**
 * The environment as the API and the worker read it at boot, every problem at once: the service's own variables
 * (libs/config), the chosen driver's (its settings class), and what only the driver checks as it is built (dovecot-sql's
 * identifiers). With `probe`, the driver is then asked whether its backend answers (Mailstore.probe: the passdb, the
 * directory, doveadm, the contract), with one connection, and closed. `reopen-admin check-config`, the night before.
 */
export async function checkEnvironment(
  env: NodeJS.ProcessEnv,
  options: { probe?: boolean } = {},
): Promise<EnvironmentCheck> {
  const { config, problems } = checkConfig(env);
  const driver = config.MAILSTORE_DRIVER;
  if (problems.some((p) => p.startsWith('MAILSTORE_DRIVER'))) return { driver, problems };
  const settings = readDriverSettings(driver, env).problems;
  if (problems.length > 0 || settings.length > 0) return { driver, problems: [...problems, ...settings] };
  let mailstore;
  try {
    mailstore = createMailstore(config, 1);
  } catch (err) {
    if (err instanceof ConfigError) return { driver, problems: err.problems };
    throw err;
  }
  try {
    return options.probe ? { driver, problems, probe: await mailstore.probe() } : { driver, problems };
  } finally {
    await mailstore.destroy();
  }
}
