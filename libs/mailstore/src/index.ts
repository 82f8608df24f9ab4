export * from './capabilities';
export { MAILSTORE, type Mailstore } from './mailstore';
export { MailstoreClient } from './mailstore.client';
export * from './mailstore.types';
export * from './outcome';
export { withRetries } from './retry';
export { LdapMailstore, parseLdapSettings } from './drivers/ldap';
export * from './drivers/dovecot-sql';
