import { readSettings } from '@app/config';
import { validSettings } from '@app/testing';
import { DovecotSqlSettings } from './dovecot-sql.settings';

const columns = {
  DOVECOT_SQL_URL: 'postgres://dovecot:secret@db.example:5432/mail',
  DOVECOT_SQL_TABLE: 'mail.users',
  DOVECOT_SQL_LOGIN_COLUMN: 'email',
  DOVECOT_SQL_IMAP_COLUMN: 'imap_enabled',
  DOVECOT_SQL_POP3_COLUMN: 'pop3_enabled',
};

const problems = (env: Record<string, string | undefined>) => readSettings(DovecotSqlSettings, env).problems;
const load = (env: Record<string, string | undefined>) => validSettings(DovecotSqlSettings, env);

describe('the dovecot-sql settings (MAILSTORE_DRIVER=dovecot-sql)', () => {
  it('reads a complete dovecot-sql configuration, with its defaults', () => {
    const config = load({ ...columns, DOVEADM_URL: 'http://127.0.0.1:8080', DOVEADM_API_KEY: 'k' });
    expect(config).toMatchObject({
      DOVECOT_SQL_TABLE: 'mail.users',
      DOVECOT_SQL_VERSION_COLUMN: undefined,
      DOVECOT_SQL_MAX_BATCH_ITEMS: 500,
      DOVECOT_AUTH_CACHE_TTL_S: 0,
      DOVEADM_URL: 'http://127.0.0.1:8080',
    });
    const list = { ...columns, DOVECOT_SQL_IMAP_COLUMN: '', DOVECOT_SQL_POP3_COLUMN: '' };
    expect(load({ ...list, DOVECOT_SQL_PROTOCOLS_COLUMN: 'allowed' }).DOVECOT_SQL_PROTOCOLS_COLUMN).toBe('allowed');
    expect(load({ ...columns, DOVECOT_SQL_URL: 'mysql://root@127.0.0.1:3306/mail' }).DOVECOT_SQL_URL).toMatch(
      /^mysql:/,
    );
  });

  it('names every missing variable when dovecot-sql is chosen with nothing else', () => {
    expect(problems({})).toEqual([
      'DOVECOT_SQL_URL is required with MAILSTORE_DRIVER=dovecot-sql',
      'DOVECOT_SQL_TABLE is required with MAILSTORE_DRIVER=dovecot-sql',
      'DOVECOT_SQL_LOGIN_COLUMN is required with MAILSTORE_DRIVER=dovecot-sql',
      expect.stringMatching(/^DOVECOT_SQL_IMAP_COLUMN and DOVECOT_SQL_POP3_COLUMN .* or DOVECOT_SQL_PROTOCOLS_COLUMN/),
    ]);
  });

  it('refuses two layouts at once, or half of one', () => {
    expect(problems({ ...columns, DOVECOT_SQL_PROTOCOLS_COLUMN: 'allowed' })).toEqual([
      'DOVECOT_SQL_IMAP_COLUMN/DOVECOT_SQL_POP3_COLUMN and DOVECOT_SQL_PROTOCOLS_COLUMN are two layouts: set one',
    ]);
    expect(problems({ ...columns, DOVECOT_SQL_POP3_COLUMN: '' })).toEqual([
      'DOVECOT_SQL_IMAP_COLUMN is set without DOVECOT_SQL_POP3_COLUMN: one column per protocol needs both',
    ]);
    expect(problems({ ...columns, DOVECOT_SQL_IMAP_COLUMN: '' })).toEqual([
      'DOVECOT_SQL_IMAP_COLUMN is required with DOVECOT_SQL_POP3_COLUMN',
    ]);
  });

  it('refuses a URL of another database, doveadm without its key, and numbers out of range; no secret in a line', () => {
    const found = problems({
      ...columns,
      DOVECOT_SQL_URL: 'redis://:secret@127.0.0.1:6379/0',
      DOVEADM_URL: 'http://127.0.0.1:8080/doveadm/v1',
      DOVECOT_SQL_MAX_BATCH_ITEMS: '0',
      DOVECOT_AUTH_CACHE_TTL_S: '-1',
    });
    expect(found).toEqual([
      'DOVECOT_SQL_URL must look like postgres://user@host:5432/db or mysql://user@host:3306/db',
      expect.stringMatching(/^DOVECOT_SQL_MAX_BATCH_ITEMS/),
      expect.stringMatching(/^DOVECOT_AUTH_CACHE_TTL_S/),
      'DOVEADM_API_KEY is required with DOVEADM_URL',
    ]);
    expect(found.join('\n')).not.toContain('secret');
  });
});
