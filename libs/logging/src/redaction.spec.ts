import { CENSOR, maskLogin, redactText, sanitizePath, sanitizeUrl, scrubFields } from './redaction';

describe('what the logs never carry', () => {
  it('censors a setting whose name says it is a secret, whichever driver it belongs to, and keeps the others', () => {
    const fields = {
      env: {
        MAILSTORE_TOKEN: 't1',
        DOVEADM_API_KEY: 'k1',
        LDAP_BIND_PASSWORD: 'p1',
        CYRUS_ADMIN_PASSWORD: 'p2',
        WEBHOOK_SECRET: 's1',
        LDAP_BIND_DN: 'cn=reopen',
        DOVECOT_SQL_TABLE: 'mail_users',
        API_KEY_HASH_ROUNDS: '10',
      },
    };
    expect(scrubFields(fields)).toEqual({
      env: {
        MAILSTORE_TOKEN: CENSOR,
        DOVEADM_API_KEY: CENSOR,
        LDAP_BIND_PASSWORD: CENSOR,
        CYRUS_ADMIN_PASSWORD: CENSOR,
        WEBHOOK_SECRET: CENSOR,
        LDAP_BIND_DN: 'cn=reopen',
        DOVECOT_SQL_TABLE: 'mail_users',
        API_KEY_HASH_ROUNDS: '10',
      },
    });
  });

  it('masks logins: the first character and the domain stay', () => {
    expect(maskLogin('alice.martin@example.test')).toBe('a***@example.test');
    expect(maskLogin('bob')).toBe('b***');
    expect(maskLogin('x')).toBe('***');
  });

  it('keeps the path of a URL with the login of a support URL masked, and drops the query', () => {
    expect(sanitizePath('/api/v1/accounts/alice%40example.test/enable?key=s3cret')).toBe(
      '/api/v1/accounts/a***@example.test/enable',
    );
    expect(sanitizePath('/api/v1/accounts/jdoe/hold')).toBe('/api/v1/accounts/j***/hold');
    expect(sanitizePath('/api/v1/accounts/import')).toBe('/api/v1/accounts/import');
    expect(sanitizePath('/api/v1/overrides/jdoe')).toBe('/api/v1/overrides/j***');
    expect(sanitizePath('/api/v1/audit/by/carol@example.test')).toBe('/api/v1/audit/by/c***@example.test');
    expect(sanitizePath('/api/v1/waves/7f3a/progress')).toBe('/api/v1/waves/7f3a/progress');
  });

  it('removes credentials from a URL that keeps its query', () => {
    expect(
      sanitizeUrl('https://user:pa55@mail.example.test/v1/accounts/dave%40example.test/access?token=t0k&x=1'),
    ).toBe('https://[REDACTED]@mail.example.test/v1/accounts/d***@example.test/access?token=[REDACTED]&x=1');
    expect(sanitizeUrl('/api/v1/login-events?key=rk_signals_abcdef_XYZ&api_key=1&X-Amz-Signature=2&cursor=9')).toBe(
      '/api/v1/login-events?key=[REDACTED]&api_key=[REDACTED]&X-Amz-Signature=[REDACTED]&cursor=9',
    );
    expect(sanitizeUrl('/api/v1/audit?login=erin%40example.test')).toBe('/api/v1/audit?login=e***%40example.test');
  });

  it('removes secrets from free text: bearer tokens, URL credentials and secret parameters, API keys, e-mails', () => {
    const text =
      'POST http://u:p4ss@host/x?access_token=abc&page=2 failed: Authorization: Bearer zzz-top; ' +
      'key rk_ops_0a1b2c_QmFzZTY0LXNlY3JldA for frank@example.test';
    const clean = redactText(text);
    expect(clean).toBe(
      'POST http://[REDACTED]@host/x?access_token=[REDACTED]&page=2 failed: Authorization: Bearer [REDACTED]; ' +
        'key rk_ops_0a1b2c_[REDACTED] for f***@example.test',
    );
    expect(clean).not.toMatch(/p4ss|abc&|zzz-top|QmFzZTY0|frank/);
  });
});
