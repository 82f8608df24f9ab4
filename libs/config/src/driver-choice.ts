import { ValidateIf } from 'class-validator';

export const MAILSTORE_DRIVERS = ['http', 'dovecot-sql', 'ldap'] as const;
export type MailstoreDriverName = (typeof MAILSTORE_DRIVERS)[number];

/** A variable's text as a number ('' and non-strings left as they are, for the validators to name). */
export const toNumber = ({ value }: { value: unknown }) =>
  typeof value === 'string' && value.trim() !== '' ? Number(value) : value;

/**
 * A setting of the named drivers, checked only when MAILSTORE_DRIVER is one of them (set but unchecked otherwise),
 * and then only where `check` holds (an optional setting: when it is set).
 */
export function whenDriver<T extends object>(
  drivers: readonly MailstoreDriverName[],
  check: (o: T) => boolean = () => true,
): PropertyDecorator {
  return ValidateIf(
    (o: object) => drivers.includes((o as { MAILSTORE_DRIVER: MailstoreDriverName }).MAILSTORE_DRIVER) && check(o as T),
  );
}
