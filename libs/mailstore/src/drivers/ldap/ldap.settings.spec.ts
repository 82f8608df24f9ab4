import { join } from 'node:path';
import { ConfigError, readSettings } from '@app/config';
import { validSettings } from '@app/testing';
import { createDriverMailstore } from '../registry';
import { LdapSettings } from './ldap.settings';

const BASE = {
  LDAP_URL: 'ldap://127.0.0.1:389',
  LDAP_BIND_DN: 'cn=reopen-access,ou=services,dc=example,dc=test',
  LDAP_BIND_PASSWORD: 'p@ss-secret',
  LDAP_BASE_DN: 'ou=people,dc=example,dc=test',
  LDAP_IMAP_ATTRIBUTE: 'reopenImapEnabled',
  LDAP_POP3_ATTRIBUTE: 'reopenPop3Enabled',
  LDAP_VERSION_ATTRIBUTE: 'reopenAccessVersion',
};

/** A readable file that is no certificate. */
const NOT_PEM = join(__dirname, 'ldap.options.ts');

const problems = (env: Record<string, string | undefined>) => readSettings(LdapSettings, env).problems;
const load = (env: Record<string, string | undefined>) => validSettings(LdapSettings, env);

describe('the ldap settings (MAILSTORE_DRIVER=ldap)', () => {
  it('reads one attribute per protocol, with the defaults of the rest', () => {
    expect(load(BASE)).toMatchObject({
      LDAP_URL: 'ldap://127.0.0.1:389',
      LDAP_LOGIN_ATTRIBUTE: 'uid',
      LDAP_FILTER: '(objectClass=*)',
      LDAP_TRUE_VALUE: 'TRUE',
      LDAP_FALSE_VALUE: 'FALSE',
      LDAP_PROTOCOLS_ATTRIBUTE: undefined,
      LDAP_POOL_SIZE: 4,
      LDAP_TIMEOUT_MS: 5000,
      LDAP_CONNECT_TIMEOUT_MS: 2000,
      LDAP_MAX_BATCH_ITEMS: 500,
      LDAP_UPDATES_PER_SECOND: 1000,
      DOVEADM_URL: undefined,
      DOVEADM_TIMEOUT_MS: 5000,
    });
  });

  it('reads one multi-valued attribute of allowed protocols, and doveadm when configured', () => {
    const config = load({
      ...BASE,
      LDAP_IMAP_ATTRIBUTE: undefined,
      LDAP_POP3_ATTRIBUTE: undefined,
      LDAP_PROTOCOLS_ATTRIBUTE: 'mailEnabledService',
      LDAP_POP3_VALUE: 'POP3',
      LDAP_FILTER: '(&(objectClass=inetOrgPerson)(!(status=locked)))',
      DOVEADM_URL: 'http://127.0.0.1:8080/',
      DOVEADM_API_KEY: 'k',
      DOVEADM_TIMEOUT_MS: '2000',
      LDAP_POOL_SIZE: '8',
    });
    expect(config).toMatchObject({
      LDAP_PROTOCOLS_ATTRIBUTE: 'mailEnabledService',
      LDAP_IMAP_VALUE: 'imap',
      LDAP_POP3_VALUE: 'POP3',
      DOVEADM_URL: 'http://127.0.0.1:8080/',
      DOVEADM_TIMEOUT_MS: 2000,
      LDAP_POOL_SIZE: 8,
    });
  });

  it('names every missing variable when ldap is chosen with nothing else', () => {
    expect(problems({})).toEqual([
      'LDAP_URL is required with MAILSTORE_DRIVER=ldap',
      'LDAP_BIND_DN is required with MAILSTORE_DRIVER=ldap',
      'LDAP_BIND_PASSWORD is required with MAILSTORE_DRIVER=ldap',
      'LDAP_BASE_DN is required with MAILSTORE_DRIVER=ldap',
      expect.stringMatching(/^LDAP_IMAP_ATTRIBUTE and LDAP_POP3_ATTRIBUTE .* or LDAP_PROTOCOLS_ATTRIBUTE/),
      'LDAP_VERSION_ATTRIBUTE is required with MAILSTORE_DRIVER=ldap',
    ]);
  });

  it.each([
    [{ LDAP_URL: 'http://dir:389' }, 'LDAP_URL must be ldap://host[:port] or ldaps://host[:port]'],
    [{ LDAP_BIND_DN: 'not a dn' }, 'LDAP_BIND_DN is not a distinguished name (attr=value,attr=value…)'],
    [{ LDAP_BASE_DN: 'ou=people\n,dc=x' }, 'LDAP_BASE_DN is not a distinguished name (attr=value,attr=value…)'],
    [{ LDAP_LOGIN_ATTRIBUTE: 'u id' }, 'LDAP_LOGIN_ATTRIBUTE is not an LDAP attribute name'],
    [{ LDAP_FILTER: 'objectClass=*' }, expect.stringMatching(/^LDAP_FILTER is not an LDAP filter \(RFC 4515\)/)],
    [{ LDAP_FILTER: '(&(objectClass=*)' }, expect.stringMatching(/^LDAP_FILTER is not an LDAP filter/)],
    [{ LDAP_POP3_ATTRIBUTE: undefined }, expect.stringMatching(/^LDAP_IMAP_ATTRIBUTE is set without LDAP_POP3/)],
    [{ LDAP_IMAP_ATTRIBUTE: undefined }, 'LDAP_IMAP_ATTRIBUTE is required with LDAP_POP3_ATTRIBUTE'],
    [{ LDAP_PROTOCOLS_ATTRIBUTE: 'allowed' }, expect.stringMatching(/^LDAP_IMAP_ATTRIBUTE\/LDAP_POP3_ATTRIBUTE and/)],
    [{ LDAP_IMAP_ATTRIBUTE: 'imap enabled' }, 'LDAP_IMAP_ATTRIBUTE is not an LDAP attribute name'],
    [{ LDAP_VERSION_ATTRIBUTE: 'reopenImapEnabled' }, expect.stringMatching(/^LDAP_VERSION_ATTRIBUTE, LDAP_LOGIN/)],
    [{ LDAP_FALSE_VALUE: 'true' }, 'LDAP_FALSE_VALUE must differ from LDAP_TRUE_VALUE'],
    [{ LDAP_TRUE_VALUE: 'yes please' }, 'LDAP_TRUE_VALUE must be 1-64 printable ASCII characters'],
    [{ LDAP_POOL_SIZE: '0' }, 'LDAP_POOL_SIZE must be an integer from 1 to 64'],
    [{ LDAP_POOL_SIZE: '2x' }, 'LDAP_POOL_SIZE must be an integer from 1 to 64'],
    [{ LDAP_TIMEOUT_MS: '-5' }, 'LDAP_TIMEOUT_MS must be an integer from 100 to 120000'],
    [{ LDAP_STARTTLS: 'yes' }, 'LDAP_STARTTLS must be true or false'],
    [
      { LDAP_STARTTLS: 'true', LDAP_URL: 'ldaps://dir:636' },
      'LDAP_STARTTLS is for an ldap:// URL: an ldaps:// one is TLS already',
    ],
    [{ LDAP_CA_FILE: '/nonexistent/ca.pem' }, 'LDAP_CA_FILE cannot be read (ENOENT): /nonexistent/ca.pem'],
    [{ LDAP_CA_FILE: NOT_PEM }, `LDAP_CA_FILE holds no PEM certificate (-----BEGIN CERTIFICATE-----): ${NOT_PEM}`],
    [{ DOVEADM_URL: 'http://127.0.0.1:8080' }, 'DOVEADM_API_KEY is required with DOVEADM_URL'],
    [
      { DOVEADM_URL: 'http://user:pw@127.0.0.1:8080', DOVEADM_API_KEY: 'k' },
      expect.stringMatching(/^DOVEADM_URL must be an http\(s\) URL without credentials/),
    ],
    [
      { DOVEADM_URL: 'http://127.0.0.1:8080', DOVEADM_API_KEY: 'k', DOVEADM_TIMEOUT_MS: '10' },
      'DOVEADM_TIMEOUT_MS must be an integer from 100 to 60000',
    ],
  ])('refuses %j, naming the variable in the one line and never the password', (change, message) => {
    const found = problems({ ...BASE, ...change });
    expect(found).toEqual([message]);
    expect(found.join('\n')).not.toContain('p@ss-secret');
  });

  it('names several bad values at once, in one error: the driver is not built', () => {
    let error: unknown;
    try {
      const env = { ...BASE, LDAP_URL: 'ldap:/x', LDAP_POOL_SIZE: '0', DOVEADM_URL: 'ftp://x', DOVEADM_API_KEY: 'dk' };
      createDriverMailstore('ldap', env, { connections: 4, timeoutMs: 10_000 });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    for (const name of ['LDAP_URL', 'LDAP_POOL_SIZE', 'DOVEADM_URL']) expect(message).toContain(name);
    expect(message).not.toMatch(/p@ss-secret|dk\b/);
  });
});
