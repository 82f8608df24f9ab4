/**
 * The ldap driver over TLS, against a real OpenLDAP that refuses simple binds outside TLS (`security simple_bind`):
 * StartTLS on ldap:// and ldaps://, each trusting a private CA given by LDAP_CA_FILE. A driver that binds and writes
 * has sent its password inside TLS; one that does not trust the certificate stops at the handshake (tls_untrusted,
 * nothing written); one that does not upgrade is refused the bind (401, as the directory says).
 */
import { PrivateSlapd, validSettings } from '@app/testing';
import type { Outcome } from '../../outcome';
import { LdapMailstore } from './ldap.mailstore';
import { ldapMailstoreOptions } from './ldap.driver';
import { LdapSettings } from './ldap.settings';

const OFF = { reopenImapEnabled: 'FALSE', reopenPop3Enabled: 'FALSE' };
const accounts = ['starttls', 'ldaps', 'untrusted', 'plain'].map((name) => ({
  login: `${name}@example.test`,
  password: 'pw',
  attributes: OFF,
}));

let slapd: PrivateSlapd;
const stores: LdapMailstore[] = [];

function driver(env: Record<string, string>): LdapMailstore {
  const store = new LdapMailstore(ldapMailstoreOptions(validSettings(LdapSettings, { ...slapd.driverEnv(), ...env })));
  stores.push(store);
  return store;
}

const open = (store: LdapMailstore, name: string): Promise<Outcome<unknown>> =>
  store.batch(
    [{ account: `${name}@example.test`, protocols: { imap: true, pop3: false } }],
    {},
    {
      idempotencyKey: `tls-${name}`,
    },
  );

beforeAll(async () => {
  slapd = await PrivateSlapd.start(accounts, { tls: true });
});
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.destroy()));
});
afterAll(async () => {
  await slapd?.stop();
});

describe('LdapMailstore over TLS, the directory refusing binds in clear', () => {
  it('StartTLS on ldap:// with the private CA: binds and writes', async () => {
    const outcome = await open(driver({ LDAP_STARTTLS: 'true', LDAP_CA_FILE: slapd.caFile }), 'starttls');
    expect(outcome).toMatchObject({ kind: 'ok', value: { results: [{ status: 'applied' }] } });
    expect((await slapd.entry('starttls@example.test')).reopenImapEnabled).toEqual(['TRUE']);
  });

  it('ldaps:// with the private CA: binds and writes', async () => {
    const outcome = await open(driver({ LDAP_URL: slapd.ldapsUrl, LDAP_CA_FILE: slapd.caFile }), 'ldaps');
    expect(outcome).toMatchObject({ kind: 'ok', value: { results: [{ status: 'applied' }] } });
    expect((await slapd.entry('ldaps@example.test')).reopenImapEnabled).toEqual(['TRUE']);
  });

  it('a certificate the driver does not trust: 403 tls_untrusted at the handshake, nothing written', async () => {
    const envs: Record<string, string>[] = [{ LDAP_STARTTLS: 'true' }, { LDAP_URL: slapd.ldapsUrl }];
    for (const env of envs) {
      expect(await open(driver(env), 'untrusted')).toMatchObject({
        kind: 'permanent',
        status: 403,
        code: 'tls_untrusted',
      });
    }
    expect((await slapd.entry('untrusted@example.test')).reopenImapEnabled).toEqual(['FALSE']);
  });

  it('without TLS the directory refuses the bind (confidentiality required): 401, nothing written', async () => {
    expect(await open(driver({}), 'plain')).toMatchObject({ kind: 'permanent', status: 401, code: 'unauthorized' });
    expect((await slapd.entry('plain@example.test')).reopenImapEnabled).toEqual(['FALSE']);
  });
});
