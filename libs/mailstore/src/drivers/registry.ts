import { ConfigError, readSettings } from '@app/config';
import type { Mailstore } from '../mailstore';
import type { DriverContext, MailstoreDriver } from './driver';
import { dovecotSqlDriver } from './dovecot-sql/dovecot-sql.driver';
import { httpDriver } from './http/http.driver';
import { ldapDirectoryDriver } from './ldap/ldap.driver';

/**
 * Every mailstore driver MAILSTORE_DRIVER may name. A new driver is its folder under drivers/ (its Mailstore, its
 * settings class and its definition, as these) and one line here; then the conformance suite (docs/drivers.md).
 */
export const MAILSTORE_DRIVERS: readonly MailstoreDriver[] = [httpDriver, dovecotSqlDriver, ldapDirectoryDriver];

/**
 * The driver MAILSTORE_DRIVER names and its settings read from `env`, with every problem found (each naming its
 * variable): an unknown name is one, naming the choices.
 */
export function readDriverSettings(
  name: string,
  env: Readonly<Record<string, string | undefined>>,
): { driver?: MailstoreDriver; settings?: object; problems: string[] } {
  const driver = MAILSTORE_DRIVERS.find((d) => d.name === name);
  if (!driver) {
    return { problems: [`MAILSTORE_DRIVER must be one of ${MAILSTORE_DRIVERS.map((d) => d.name).join(', ')}`] };
  }
  const { settings, problems } = readSettings(driver.Settings, env);
  return { driver, settings, problems };
}

/** The mailstore MAILSTORE_DRIVER names, from its variables in `env`; a ConfigError naming each bad one otherwise. */
export function createDriverMailstore(
  name: string,
  env: Readonly<Record<string, string | undefined>>,
  context: DriverContext,
): Mailstore {
  const { driver, settings, problems } = readDriverSettings(name, env);
  if (!driver || !settings || problems.length > 0) throw new ConfigError(problems);
  return driver.create(settings, context);
}
