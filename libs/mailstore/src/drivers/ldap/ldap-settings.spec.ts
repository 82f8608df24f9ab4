import { LdapSettingsError, parseLdapSettings } from './ldap-settings';

const BASE = {
  LDAP_URL: 'ldap://127.0.0.1:389',
  LDAP_BIND_DN: 'cn=reopen-access,ou=services,dc=example,dc=test',
  LDAP_BIND_PASSWORD: 'p@ss-secret',
  LDAP_BASE_DN: 'ou=people,dc=example,dc=test',
  LDAP_IMAP_ATTRIBUTE: 'reopenImapEnabled',
  LDAP_POP3_ATTRIBUTE: 'reopenPop3Enabled',
  LDAP_VERSION_ATTRIBUTE: 'reopenAccessVersion',
};

function failure(env: Record<string, string | undefined>): LdapSettingsError {
  try {
    parseLdapSettings(env);
  } catch (err) {
    if (err instanceof LdapSettingsError) return err;
    throw err;
  }
  throw new Error('expected the settings to be refused');
}

describe('parseLdapSettings', () => {
  it('reads one attribute per protocol, with defaults for the rest', () => {
    const o = parseLdapSettings(BASE);
    expect(o).toMatchObject({
      url: 'ldap://127.0.0.1:389',
      loginAttribute: 'uid',
      versionAttribute: 'reopenAccessVersion',
      poolSize: 4,
      maxBatchItems: 500,
      switches: {
        mode: 'attributes',
        attributes: { imap: 'reopenImapEnabled', pop3: 'reopenPop3Enabled' },
        trueValue: 'TRUE',
        falseValue: 'FALSE',
      },
    });
    expect(o.doveadm).toBeUndefined();
  });

  it('reads one multi-valued attribute of allowed protocols, and doveadm when configured', () => {
    const env = { ...BASE, LDAP_IMAP_ATTRIBUTE: undefined, LDAP_POP3_ATTRIBUTE: undefined };
    const o = parseLdapSettings({
      ...env,
      LDAP_PROTOCOLS_ATTRIBUTE: 'mailEnabledService',
      LDAP_POP3_VALUE: 'POP3',
      DOVEADM_URL: 'http://127.0.0.1:8080/',
      DOVEADM_API_KEY: 'k',
    });
    expect(o.switches).toEqual({
      mode: 'list',
      attribute: 'mailEnabledService',
      values: { imap: 'imap', pop3: 'POP3' },
    });
    expect(o.doveadm).toEqual({ url: 'http://127.0.0.1:8080', apiKey: 'k', timeoutMs: 5_000 });
  });

  it.each([
    [{ LDAP_URL: undefined }, 'LDAP_URL'],
    [{ LDAP_URL: 'http://dir:389' }, 'LDAP_URL'],
    [{ LDAP_BIND_DN: 'not a dn' }, 'LDAP_BIND_DN'],
    [{ LDAP_BIND_PASSWORD: '' }, 'LDAP_BIND_PASSWORD'],
    [{ LDAP_BASE_DN: undefined }, 'LDAP_BASE_DN'],
    [{ LDAP_LOGIN_ATTRIBUTE: 'u id' }, 'LDAP_LOGIN_ATTRIBUTE'],
    [{ LDAP_FILTER: 'objectClass=*' }, 'LDAP_FILTER'],
    [{ LDAP_FILTER: '(&(objectClass=*)' }, 'LDAP_FILTER'],
    [{ LDAP_IMAP_ATTRIBUTE: undefined, LDAP_POP3_ATTRIBUTE: undefined }, 'LDAP_IMAP_ATTRIBUTE'],
    [{ LDAP_POP3_ATTRIBUTE: undefined }, 'LDAP_POP3_ATTRIBUTE'],
    [{ LDAP_PROTOCOLS_ATTRIBUTE: 'allowed' }, 'LDAP_PROTOCOLS_ATTRIBUTE'],
    [{ LDAP_VERSION_ATTRIBUTE: undefined }, 'LDAP_VERSION_ATTRIBUTE'],
    [{ LDAP_VERSION_ATTRIBUTE: 'reopenImapEnabled' }, 'LDAP_VERSION_ATTRIBUTE'],
    [{ LDAP_FALSE_VALUE: 'true' }, 'LDAP_FALSE_VALUE'],
    [{ LDAP_POOL_SIZE: '0' }, 'LDAP_POOL_SIZE'],
    [{ LDAP_POOL_SIZE: '2x' }, 'LDAP_POOL_SIZE'],
    [{ LDAP_TIMEOUT_MS: '-5' }, 'LDAP_TIMEOUT_MS'],
    [{ DOVEADM_URL: 'http://127.0.0.1:8080' }, 'DOVEADM_API_KEY'],
    [{ DOVEADM_URL: 'http://user:pw@127.0.0.1:8080', DOVEADM_API_KEY: 'k' }, 'DOVEADM_URL'],
  ])('refuses %j, naming %s and never the password', (change, variable) => {
    const err = failure({ ...BASE, ...change });
    expect(err.variable).toBe(variable);
    expect(err.message.startsWith(`${variable} `)).toBe(true);
    expect(err.message).not.toContain('p@ss-secret');
  });
});
