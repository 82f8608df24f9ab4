import { ConfigError, loadConfig } from '@app/config';
import { DovecotSqlMailstore, ldapDriver, MailstoreClient } from '@app/mailstore';
import { checkEnvironment, environmentProblems } from './check-environment';
import { createMailstore } from './core-graph';

const dovecotSql = {
  MAILSTORE_DRIVER: 'dovecot-sql',
  DOVECOT_SQL_URL: 'postgres://dovecot:pg-secret@127.0.0.1:5432/mail',
  DOVECOT_SQL_TABLE: 'mail_users',
  DOVECOT_SQL_LOGIN_COLUMN: 'email',
  DOVECOT_SQL_IMAP_COLUMN: 'imap_enabled',
  DOVECOT_SQL_POP3_COLUMN: 'pop3_enabled',
};

const LDAP = {
  MAILSTORE_DRIVER: 'ldap',
  LDAP_URL: 'ldap://127.0.0.1:389',
  LDAP_BIND_DN: 'cn=reopen-access,ou=services,dc=example,dc=test',
  LDAP_BIND_PASSWORD: 'secret-pw',
  LDAP_BASE_DN: 'ou=people,dc=example,dc=test',
  LDAP_PROTOCOLS_ATTRIBUTE: 'reopenAllowedProtocol',
  LDAP_VERSION_ATTRIBUTE: 'reopenAccessVersion',
};

// Constructing a driver opens no connection (the pools connect on first use), so these need no database.
describe('createMailstore', () => {
  it('builds the HTTP client unless MAILSTORE_DRIVER says otherwise', async () => {
    const store = createMailstore(loadConfig({}));
    expect(store).toBeInstanceOf(MailstoreClient);
    await store.destroy();
  });

  it('builds the dovecot-sql driver from its variables, advertising revocation only with doveadm', async () => {
    const without = createMailstore(loadConfig({ ...dovecotSql, DOVECOT_SQL_MAX_BATCH_ITEMS: '200' }));
    const withDoveadm = createMailstore(
      loadConfig({ ...dovecotSql, DOVEADM_URL: 'http://127.0.0.1:8080', DOVEADM_API_KEY: 'doveadm-secret' }),
    );
    try {
      expect(without).toBeInstanceOf(DovecotSqlMailstore);
      expect((await without.capabilities()).kind).toBe('ok');
      expect(without.cachedCapabilities()).toMatchObject({
        maxBatchItems: 200,
        revokeSessions: false,
        conditionalUpdates: true,
        propagation: { mode: 'immediate', maxSeconds: 0 },
      });
      expect(withDoveadm.cachedCapabilities()?.revokeSessions).toBe(true);
    } finally {
      await without.close();
      await withDoveadm.close();
    }
  });

  it('says eventual propagation when Dovecot keeps an auth cache', async () => {
    const mailstore = createMailstore(loadConfig({ ...dovecotSql, DOVECOT_AUTH_CACHE_TTL_S: '60' }));
    expect(mailstore.cachedCapabilities()?.propagation).toEqual({ mode: 'eventual', maxSeconds: 60 });
    expect(mailstore.propagationDelayMs()).toBe(60_000);
    await mailstore.close();
  });

  it('refuses to start on a table or column that is not an identifier, naming the variable and no secret', () => {
    const attempt = () =>
      createMailstore(
        loadConfig({
          ...dovecotSql,
          DOVECOT_SQL_TABLE: 'users; DROP TABLE users',
          DOVECOT_SQL_IMAP_COLUMN: 'imap enabled',
          DOVEADM_URL: 'http://127.0.0.1:8080',
          DOVEADM_API_KEY: 'doveadm-secret',
        }),
      );
    expect(attempt).toThrow(ConfigError);
    let message = '';
    try {
      attempt();
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/DOVECOT_SQL_TABLE must be a plain SQL identifier/);
    expect(message).toMatch(/DOVECOT_SQL_IMAP_COLUMN must be a plain SQL identifier/);
    expect(message).not.toMatch(/pg-secret|doveadm-secret/);
  });

  it('builds the ldap driver from its LDAP_* settings, and refuses to start naming a bad one', async () => {
    const store = createMailstore(loadConfig(LDAP));
    expect(store).toBeInstanceOf(ldapDriver().LdapMailstore);
    expect(store.cachedCapabilities()).toMatchObject({ maxBatchItems: 500, revokeSessions: false });
    await store.destroy();
    // Refused before any connection: the driver's variables are checked as it is built, at boot.
    expect(() => createMailstore(loadConfig({ ...LDAP, LDAP_POOL_SIZE: 'many' }))).toThrow(
      /LDAP_POOL_SIZE must be an integer/,
    );
  });
});

// Without `probe` nothing connects: these need no database.
describe('checkEnvironment: what the API and the worker would refuse to start on, all at once', () => {
  it('passes the defaults and a complete driver configuration, asking nothing of the mail server', async () => {
    expect(await checkEnvironment({})).toEqual({ driver: 'http', problems: [] });
    expect(await checkEnvironment(dovecotSql)).toEqual({ driver: 'dovecot-sql', problems: [] });
  });

  it("names the service's bad variables and the driver's in one list, never a secret", async () => {
    const check = await checkEnvironment({
      PORT: 'eighty',
      MAILSTORE_DRIVER: 'ldap',
      LDAP_BIND_PASSWORD: 'ldap-secret',
      LDAP_POOL_SIZE: 'many',
    });
    expect(check.driver).toBe('ldap');
    expect(check.problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^PORT /),
        'LDAP_URL is required with MAILSTORE_DRIVER=ldap',
        'LDAP_POOL_SIZE must be an integer from 1 to 64',
      ]),
    );
    expect(JSON.stringify(check)).not.toContain('ldap-secret');
  });

  it('names an unknown driver with the choices', async () => {
    expect(await checkEnvironment({ MAILSTORE_DRIVER: 'imap' })).toEqual({
      driver: 'imap',
      problems: ['MAILSTORE_DRIVER must be one of http, dovecot-sql, ldap'],
    });
    // A mistyped name, whatever its case or punctuation, gets the list.
    expect((await checkEnvironment({ MAILSTORE_DRIVER: 'dovecot_sql' })).problems).toEqual([
      'MAILSTORE_DRIVER must be one of http, dovecot-sql, ldap',
    ]);
  });

  it('adds what only the driver checks as it is built: identifiers, naming their variables', async () => {
    const check = await checkEnvironment({ ...dovecotSql, DOVECOT_SQL_TABLE: 'users; DROP TABLE users' });
    expect(check.problems).toEqual([expect.stringMatching(/^DOVECOT_SQL_TABLE must be a plain SQL identifier/)]);
    expect(JSON.stringify(check)).not.toContain('pg-secret');
  });

  it("the API's own limits too: what the API refuses, the worker (which does not read them) starts on", async () => {
    const env = { API_TRUST_PROXY: 'true', API_JSON_LIMIT_KB: '0', MAILSTORE_DRIVER: 'ldap' };
    const api = environmentProblems(env, { api: true }).problems;
    expect(api).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^API_TRUST_PROXY=true would let any client choose its address/),
        'API_JSON_LIMIT_KB must be an integer from 1 to 10240',
        'LDAP_URL is required with MAILSTORE_DRIVER=ldap',
      ]),
    );
    const worker = environmentProblems(env, { api: false }).problems;
    expect(worker).toContain('LDAP_URL is required with MAILSTORE_DRIVER=ldap');
    expect(worker.filter((p) => p.startsWith('API_'))).toEqual([]);
    expect((await checkEnvironment(env)).problems).toEqual(api);
  });
});
