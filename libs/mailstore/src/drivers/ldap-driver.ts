import type * as LdapDriver from './ldap';

/**
 * The ldap driver, loaded on first use: ldapts costs about 5 MB resident (measured:
 * `require('ldapts')` in a bare node), which a process on another driver would otherwise carry.
 */
export function ldapDriver(): typeof LdapDriver {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded lazily on purpose (memory, see above)
  return require('./ldap') as typeof LdapDriver;
}
