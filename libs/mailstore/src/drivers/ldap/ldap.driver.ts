import { readFileSync } from 'node:fs';
import { defineDriver } from '../driver';
import { doveadmOptions } from '../doveadm.settings';
import { ldapDriver } from '../ldap-driver';
import type { LdapMailstoreOptions } from './ldap.options';
import { LdapSettings } from './ldap.settings';

/** The ldap driver's options from its checked LDAP_* and DOVEADM_* settings. */
export function ldapMailstoreOptions(s: LdapSettings): LdapMailstoreOptions {
  const doveadm = doveadmOptions(s);
  return {
    // Required by the settings' checks: defined here.
    url: s.LDAP_URL ?? '',
    startTls: s.LDAP_STARTTLS === 'true',
    ...(s.LDAP_CA_FILE === undefined ? {} : { caPem: readFileSync(s.LDAP_CA_FILE, 'utf8') }),
    bindDn: s.LDAP_BIND_DN ?? '',
    bindPassword: s.LDAP_BIND_PASSWORD ?? '',
    baseDn: s.LDAP_BASE_DN ?? '',
    loginAttribute: s.LDAP_LOGIN_ATTRIBUTE,
    filter: s.LDAP_FILTER,
    switches:
      s.LDAP_PROTOCOLS_ATTRIBUTE !== undefined
        ? {
            mode: 'list',
            attribute: s.LDAP_PROTOCOLS_ATTRIBUTE,
            values: { imap: s.LDAP_IMAP_VALUE, pop3: s.LDAP_POP3_VALUE },
          }
        : {
            mode: 'attributes',
            attributes: { imap: s.LDAP_IMAP_ATTRIBUTE ?? '', pop3: s.LDAP_POP3_ATTRIBUTE ?? '' },
            trueValue: s.LDAP_TRUE_VALUE,
            falseValue: s.LDAP_FALSE_VALUE,
          },
    versionAttribute: s.LDAP_VERSION_ATTRIBUTE ?? '',
    poolSize: s.LDAP_POOL_SIZE,
    timeoutMs: s.LDAP_TIMEOUT_MS,
    connectTimeoutMs: s.LDAP_CONNECT_TIMEOUT_MS,
    maxBatchItems: s.LDAP_MAX_BATCH_ITEMS,
    updatesPerSecond: s.LDAP_UPDATES_PER_SECOND,
    ...(doveadm === undefined ? {} : { doveadm }),
  };
}

/**
 * MAILSTORE_DRIVER=ldap: the switches as attributes of the account's entry (docs/drivers-ldap.md). The client library
 * is loaded only when this driver is built (ldap-driver.ts).
 */
export const ldapDirectoryDriver = defineDriver({
  name: 'ldap',
  Settings: LdapSettings,
  create: (s) => new (ldapDriver().LdapMailstore)(ldapMailstoreOptions(s)),
});
