export * from './capabilities';
export { MAILSTORE, type Mailstore } from './mailstore';
export { MailstoreClient } from './mailstore.client';
export * from './mailstore.types';
export * from './outcome';
export { withRetries } from './retry';
export { ldapDriver } from './drivers/ldap-driver';
export { parseRetryAfter } from './retry-after';
export * from './drivers/dovecot-sql';
