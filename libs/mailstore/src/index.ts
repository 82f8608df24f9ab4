export * from './capabilities';
export { MAILSTORE, type Mailstore, type Probe, type ProbePart } from './mailstore';
/** @internal the http driver builds it (drivers/http); exported for the tests' clients of the simulator. */
export { MailstoreClient } from './mailstore.client';
export * from './mailstore.types';
export * from './outcome';
export { withRetries } from './retry';
/** @internal the ldap driver loads it (drivers/ldap/ldap.driver.ts); exported for createMailstore's test. */
export { ldapDriver } from './drivers/ldap-driver';
export type { LdapMailstoreOptions } from './drivers/ldap/ldap.options';
export { parseRetryAfter } from './retry-after';
/** Whether a state holds what a write asks: the batch answer's guard, and the engine's reading of a replay. */
export { holdsAsked } from './response-guards';
export * from './drivers/dovecot-sql';
export type { DriverContext, MailstoreDriver } from './drivers/driver';
export { createDriverMailstore } from './drivers/registry';
/** The chosen driver's settings and every problem with them: the boot check (libs/core check-environment) lists them. */
export { readDriverSettings } from './drivers/registry';
