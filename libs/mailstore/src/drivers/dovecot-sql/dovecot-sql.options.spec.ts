import { DovecotSqlMailstore } from './dovecot-sql.mailstore';
import { DriverOptionsError, quoteIdentifier, redactSecrets, resolveDovecotSqlOptions } from './dovecot-sql.options';

const base = {
  url: 'postgres://dovecot:pw%40secret@127.0.0.1:5432/mail',
  table: 'mail_users',
  loginColumn: 'email',
  flags: { kind: 'columns' as const, imap: 'imap_enabled', pop3: 'pop3_enabled' },
};

function problemsOf(options: Parameters<typeof resolveDovecotSqlOptions>[0]): string[] {
  try {
    resolveDovecotSqlOptions(options);
    return [];
  } catch (err) {
    if (!(err instanceof DriverOptionsError)) throw err;
    return err.problems.map((p) => p.option);
  }
}

describe('dovecot-sql options', () => {
  it('tells the dialect from the URL and keeps the secrets aside for redaction', () => {
    const pg = resolveDovecotSqlOptions({ ...base, doveadm: { url: 'http://127.0.0.1:8080', apiKey: 'k3y' } });
    expect(pg.dialect).toBe('postgres');
    expect(pg.doveadm?.url.toString()).toBe('http://127.0.0.1:8080/');
    expect(redactSecrets('auth failed for pw@secret with k3y', pg.secrets)).toBe('auth failed for *** with ***');
    expect(resolveDovecotSqlOptions({ ...base, url: 'mariadb://root@127.0.0.1/mail' }).dialect).toBe('mysql');
  });

  it('names each option that does not fit', () => {
    expect(
      problemsOf({
        url: 'sqlite:///tmp/x',
        table: 'a.b.c',
        loginColumn: '1email',
        flags: { kind: 'columns', imap: 'same', pop3: 'same' },
        versionColumn: 'v"; --',
        doveadm: { url: 'ftp://x', apiKey: '' },
        maxBatchItems: 0,
      }),
    ).toEqual([
      'url',
      'table',
      'loginColumn',
      'flags.pop3',
      'versionColumn',
      'doveadm.url',
      'doveadm.apiKey',
      'maxBatchItems',
    ]);
    expect(problemsOf({ ...base, flags: { kind: 'list', column: '' } })).toEqual(['flags.column']);
    expect(problemsOf({ ...base, table: 'mail.users' })).toEqual([]);
  });

  it('quotes identifiers per dialect, schema and table apart', () => {
    expect(quoteIdentifier('postgres', 'mail.users')).toBe('"mail"."users"');
    expect(quoteIdentifier('mysql', 'users')).toBe('`users`');
  });

  it('says its versions name writes only with a version column (a fingerprint of the switches otherwise)', async () => {
    // The pools connect on first use: nothing is reached here.
    const versioned = new DovecotSqlMailstore({ ...base, versionColumn: 'access_version' });
    const fingerprinted = new DovecotSqlMailstore(base);
    try {
      expect(versioned.versionsNameWrites).toBe(true);
      expect(fingerprinted.versionsNameWrites).toBe(false);
    } finally {
      await Promise.all([versioned.close(), fingerprinted.close()]);
    }
  });
});
