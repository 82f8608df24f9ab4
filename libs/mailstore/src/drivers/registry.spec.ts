import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ConfigError } from '@app/config';
import { MailstoreClient } from '../mailstore.client';
import { createDriverMailstore, MAILSTORE_DRIVERS, readDriverSettings } from './registry';

const context = { connections: 4, timeoutMs: 10_000 };

describe('the driver registry (MAILSTORE_DRIVER)', () => {
  it('lists each driver once, by a name MAILSTORE_DRIVER can hold', () => {
    const names = MAILSTORE_DRIVERS.map((d) => d.name);
    expect(names).toEqual(['http', 'dovecot-sql', 'ldap']);
    for (const name of names) expect(name).toMatch(/^[a-z][a-z0-9-]{0,31}$/);
  });

  it('refuses an unknown driver, naming the choices', () => {
    expect(readDriverSettings('imap', {}).problems).toEqual([
      'MAILSTORE_DRIVER must be one of http, dovecot-sql, ldap',
    ]);
    expect(() => createDriverMailstore('imap', {}, context)).toThrow(
      new ConfigError(['MAILSTORE_DRIVER must be one of http, dovecot-sql, ldap']),
    );
  });

  it('checks only the chosen driver’s variables: another driver’s, however wrong, are not read', () => {
    const others = { DOVECOT_SQL_MAX_BATCH_ITEMS: 'lots', LDAP_POOL_SIZE: 'many', LDAP_FILTER: 'x', DOVEADM_URL: 'y' };
    expect(readDriverSettings('http', others).problems).toEqual([]);
    const dovecotSql = {
      DOVECOT_SQL_URL: 'postgres://dovecot@127.0.0.1:5432/mail',
      DOVECOT_SQL_TABLE: 'mail_users',
      DOVECOT_SQL_LOGIN_COLUMN: 'email',
      DOVECOT_SQL_PROTOCOLS_COLUMN: 'allowed',
    };
    expect(readDriverSettings('dovecot-sql', dovecotSql).problems).toEqual([]);
    expect(
      readDriverSettings('dovecot-sql', { ...dovecotSql, MAILSTORE_URL: 'nowhere', MAILSTORE_TOKEN: ' ' }).problems,
    ).toEqual([]);
  });

  it('http: the contract at MAILSTORE_URL with MAILSTORE_TOKEN, defaults for the local simulator', async () => {
    expect(readDriverSettings('http', {}).settings).toEqual({
      MAILSTORE_URL: 'http://127.0.0.1:8025/v1',
      MAILSTORE_TOKEN: 'sim-token',
    });
    expect(readDriverSettings('http', { MAILSTORE_URL: 'https://gw.example/v1' }).settings).toMatchObject({
      MAILSTORE_URL: 'https://gw.example/v1',
    });
    expect(
      readDriverSettings('http', { MAILSTORE_URL: 'http://gw.example/api', MAILSTORE_TOKEN: 'two words' }).problems,
    ).toEqual([
      'MAILSTORE_URL must be an http(s) URL ending in /v1',
      'MAILSTORE_TOKEN must be one word (a bearer token: no spaces)',
    ]);
    const store = createDriverMailstore('http', { MAILSTORE_URL: 'https://gw.example/v1' }, context);
    expect(store).toBeInstanceOf(MailstoreClient);
    await store.destroy();
  });

  it('is the one place outside a driver’s folder that knows it: no shipped code names a driver’s variables', () => {
    const root = join(__dirname, '../../../..');
    const shipped = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
        const path = join(dir, e.name);
        if (e.isDirectory()) return shipped(path);
        return e.name.endsWith('.ts') && !e.name.includes('spec.ts') ? [path] : [];
      });
    // The drivers' own folders, the tests' fixtures, and the demo, which configures a deployment as an operator does.
    const theirs = /^(libs\/mailstore\/src\/drivers\/|libs\/testing\/|apps\/cli\/src\/demo\/)/;
    const files = [...shipped(join(root, 'libs')), ...shipped(join(root, 'apps'))]
      .map((f) => relative(root, f))
      .filter((f) => !theirs.test(f));
    expect(files.length).toBeGreaterThan(100);
    const variables = MAILSTORE_DRIVERS.flatMap((d) => Object.keys(new d.Settings()));
    expect(variables).toEqual(expect.arrayContaining(['MAILSTORE_URL', 'DOVECOT_SQL_TABLE', 'LDAP_BIND_PASSWORD']));
    const named = files.flatMap((f) => {
      // Code, not comments (a comment may point at a driver's variable; code that reads one is what this forbids).
      const text = readFileSync(join(root, f), 'utf8')
        .replace(/\/\*[\s\S]*?\*\//g, '')
        .replace(/(^|\s)\/\/.*$/gm, '$1');
      return variables.filter((v) => new RegExp(`\\b${v}\\b`).test(text)).map((v) => `${f}: ${v}`);
    });
    expect(named).toEqual([]);
  });
});
