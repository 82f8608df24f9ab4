import { loadConfig } from '@app/config';
import { LdapMailstore, MailstoreClient } from '@app/mailstore';
import { createMailstore } from './core-graph';

const LDAP = {
  MAILSTORE_DRIVER: 'ldap',
  LDAP_URL: 'ldap://127.0.0.1:389',
  LDAP_BIND_DN: 'cn=reopen-access,ou=services,dc=example,dc=test',
  LDAP_BIND_PASSWORD: 'secret-pw',
  LDAP_BASE_DN: 'ou=people,dc=example,dc=test',
  LDAP_PROTOCOLS_ATTRIBUTE: 'reopenAllowedProtocol',
  LDAP_VERSION_ATTRIBUTE: 'reopenAccessVersion',
};

describe('createMailstore', () => {
  const config = loadConfig({});

  it('builds the HTTP client unless MAILSTORE_DRIVER says otherwise', async () => {
    const store = createMailstore(config, {});
    expect(store).toBeInstanceOf(MailstoreClient);
    await store.destroy();
  });

  it('builds the ldap driver from its LDAP_* settings, and refuses to start naming a bad one', async () => {
    const store = createMailstore(config, LDAP);
    expect(store).toBeInstanceOf(LdapMailstore);
    await store.destroy();
    expect(() => createMailstore(config, { ...LDAP, LDAP_POOL_SIZE: 'many' })).toThrow(/^LDAP_POOL_SIZE must be/);
  });
});
