import { startSimulator } from '@app/mailstore-sim';
import { loadConfig } from '@app/config';
import { createMailstore } from '@app/core';
import { DovecotSqlMailstore, MailstoreClient, type Mailstore } from '@app/mailstore';
import {
  createPassdbDatabase,
  freeLoopbackPort,
  holdImapSession,
  pollUntil,
  PrivateSlapd,
  startPrivateDovecot,
  type PassdbDialect,
  type PassdbLayout,
  type PrivateDovecot,
} from '@app/testing';

/**
 * What the driver conformance suite (driver-conformance.contract-spec.ts) runs against: one factory per driver and
 * backend. A new driver is one more factory here (docs/drivers.md, "Adding a driver").
 */
export interface DriverTarget {
  mailstore: Mailstore;
  /** Accounts the suite may change, every protocol closed at the start. */
  accounts: [string, string, string];
  /** An account the backend does not know. */
  missing: string;
  /** Versions go up by exactly one per change; false: they only tell states apart (a fingerprint). */
  countingVersions: boolean;
  /** Another writer (support, an operator) changes an account, bumping its version, behind the driver's back. */
  changeElsewhere(account: string, protocols: { imap: boolean; pop3: boolean }): Promise<void>;
  /** Opens a live session on an account whose IMAP is on; `ended` says whether the backend ended it in time. */
  openSession(account: string): Promise<{ ended(withinMs: number): Promise<boolean>; close(): void }>;
  /** The same driver, configured for a backend that does not answer. */
  unreachable(): Promise<Mailstore>;
  close(): Promise<void>;
}

export interface DriverTargetFactory {
  name: string;
  start(): Promise<DriverTarget>;
}

const ACCOUNTS: [string, string, string] = ['conf-a@example.test', 'conf-b@example.test', 'conf-c@example.test'];
const MISSING = 'conf-missing@example.invalid';

/** The simulator over HTTP, through the provisioning-contract client. */
const simulatorOverHttp: DriverTargetFactory = {
  name: 'http (simulator)',
  async start() {
    const sim = await startSimulator({ port: 0, accounts: [...ACCOUNTS] });
    const mailstore = new MailstoreClient({ baseUrl: sim.baseUrl, token: 'sim-token' });
    const other = new MailstoreClient({ baseUrl: sim.baseUrl, token: 'sim-token' });
    let seq = 0;
    return {
      mailstore,
      accounts: ACCOUNTS,
      missing: MISSING,
      countingVersions: true,
      changeElsewhere: async (account, protocols) => {
        const out = await other.patchAccess(account, { protocols }, { idempotencyKey: `elsewhere-${++seq}` });
        if (out.kind !== 'ok') throw new Error(`simulator: ${JSON.stringify(out)}`);
      },
      openSession: async (account) => {
        const res = await fetch(`${sim.adminUrl}/accounts/${encodeURIComponent(account)}/sessions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ count: 1 }),
        });
        if (res.status !== 200) throw new Error(`simulator admin: ${res.status}`);
        return {
          ended: async (withinMs) =>
            pollUntil(() => sim.account(account)?.sessions === 0, { timeoutMs: withinMs, intervalMs: 20 })
              .then(() => true)
              .catch(() => false),
          close: () => undefined,
        };
      },
      unreachable: async () =>
        new MailstoreClient({ baseUrl: `http://127.0.0.1:${await freeLoopbackPort()}/v1`, token: 'sim-token' }),
      close: async () => {
        await mailstore.close();
        await other.close();
        await sim.close();
      },
    };
  },
};

/** The dovecot-sql driver on a passdb table of its own, with a private Dovecot for sessions and kicks. */
function dovecotSql(dialect: PassdbDialect, layout: PassdbLayout, versionColumn: boolean): DriverTargetFactory {
  return {
    name: `dovecot-sql (${dialect === 'postgres' ? 'PostgreSQL' : 'MariaDB'}, ${layout === 'columns' ? 'a column per protocol' : 'a protocols list'}${versionColumn ? '' : ', no version column'})`,
    async start() {
      const passdb = await createPassdbDatabase(dialect, layout);
      const password = (login: string) => `secret of ${login}`;
      await passdb.addAccounts(ACCOUNTS.map((login) => ({ login, password: password(login) })));
      if (layout === 'list') {
        // An operator's list also names other services: the driver must leave them alone.
        await passdb.exec("UPDATE mail_users SET allowed_protocols = 'smtp'");
      }
      const dovecot = await startPrivateDovecot(passdb);
      const options = (url: string, doveadmUrl: string) => ({
        url,
        table: passdb.table,
        loginColumn: 'email',
        flags:
          layout === 'columns'
            ? { kind: 'columns' as const, imap: 'imap_enabled', pop3: 'pop3_enabled' }
            : { kind: 'list' as const, column: 'allowed_protocols' },
        versionColumn: versionColumn ? 'access_version' : undefined,
        doveadm: { url: doveadmUrl, apiKey: dovecot.doveadmApiKey },
        timeoutMs: 3_000,
      });
      const mailstore = new DovecotSqlMailstore(options(passdb.url, dovecot.doveadmUrl));
      const drivers = driversThenServers(
        mailstore,
        () => dovecot.stop(),
        () => passdb.drop(),
      );
      return {
        mailstore,
        accounts: ACCOUNTS,
        missing: MISSING,
        countingVersions: versionColumn,
        changeElsewhere: async (account, p) => {
          const version = versionColumn ? ', access_version = access_version + 1' : '';
          if (layout === 'columns') {
            await passdb.exec(`UPDATE mail_users SET imap_enabled = ?, pop3_enabled = ?${version} WHERE email = ?`, [
              p.imap,
              p.pop3,
              account,
            ]);
          } else {
            const list = ['smtp', ...(p.imap ? ['imap'] : []), ...(p.pop3 ? ['pop3'] : [])].join(' ');
            await passdb.exec(`UPDATE mail_users SET allowed_protocols = ?${version} WHERE email = ?`, [list, account]);
          }
        },
        openSession: (account) => imapSession(dovecot, account, password(account)),
        unreachable: async () => {
          const url = new URL(passdb.url);
          url.port = String(await freeLoopbackPort());
          return drivers.add(new DovecotSqlMailstore(options(url.toString(), dovecot.doveadmUrl)));
        },
        close: drivers.close,
      };
    },
  };
}

/**
 * The ldap driver on a private slapd, in either of its layouts (`attributes`: one boolean attribute per protocol;
 * `list`: one multi-valued attribute of allowed protocols), with a private Dovecot for sessions.
 */
function ldapOnSlapd(mode: 'attributes' | 'list'): DriverTargetFactory {
  return {
    name: `ldap (OpenLDAP slapd, ${mode === 'attributes' ? 'an attribute per protocol' : 'a protocols list'})`,
    async start() {
      const password = (login: string) => `secret of ${login}`;
      // Every protocol closed. An operator's list also names other services: the driver must leave them alone.
      const off: Record<string, string | string[]> =
        mode === 'attributes'
          ? { reopenImapEnabled: 'FALSE', reopenPop3Enabled: 'FALSE' }
          : { reopenAllowedProtocol: ['sieve'] };
      const slapd = await PrivateSlapd.start(
        ACCOUNTS.map((login) => ({ login, password: password(login), attributes: off })),
      );
      const dovecot = await startPrivateDovecot(slapd, { ldapLayout: mode });
      // Through the worker's own path: the variables validated at boot, then createMailstore.
      const ldapAt = (url: string) =>
        createMailstore(
          loadConfig({
            MAILSTORE_DRIVER: 'ldap',
            ...slapd.driverEnv(mode),
            LDAP_URL: url,
            LDAP_TIMEOUT_MS: '3000',
            DOVEADM_URL: dovecot.doveadmUrl.replace(/\/doveadm\/v1$/, ''),
            DOVEADM_API_KEY: dovecot.doveadmApiKey,
          }),
        );
      const mailstore = ldapAt(slapd.url);
      const drivers = driversThenServers(
        mailstore,
        () => dovecot.stop(),
        () => slapd.stop(),
      );
      const bool = (b: boolean) => [b ? 'TRUE' : 'FALSE'];
      return {
        mailstore,
        accounts: ACCOUNTS,
        missing: MISSING,
        countingVersions: true,
        changeElsewhere: async (account, p) => {
          const version = Number((await slapd.entry(account)).reopenAccessVersion?.[0] ?? 0);
          const switches: Record<string, string[]> =
            mode === 'attributes'
              ? { reopenImapEnabled: bool(p.imap), reopenPop3Enabled: bool(p.pop3) }
              : { reopenAllowedProtocol: ['sieve', ...(p.imap ? ['imap'] : []), ...(p.pop3 ? ['pop3'] : [])] };
          await slapd.replace(account, { ...switches, reopenAccessVersion: [String(version + 1)] });
        },
        openSession: (account) => imapSession(dovecot, account, password(account)),
        unreachable: async () => drivers.add(ldapAt(`ldap://127.0.0.1:${await freeLoopbackPort()}`)),
        close: drivers.close,
      };
    },
  };
}

/**
 * The drivers a target made (its own, the unreachable ones) and the servers under them: `close` closes the drivers,
 * then stops the servers in order, even when a driver fails to close (no Dovecot left behind by a failing suite).
 */
function driversThenServers(mailstore: Mailstore, ...stops: (() => Promise<void>)[]) {
  const made: Mailstore[] = [mailstore];
  return {
    add: <M extends Mailstore>(m: M): M => {
      made.push(m);
      return m;
    },
    close: async (): Promise<void> => {
      try {
        await Promise.all(made.map((m) => m.close()));
      } finally {
        for (const stop of stops) await stop();
      }
    },
  };
}

/** A live IMAP session on a private Dovecot: ended when Dovecot closes it (a kick). */
async function imapSession(
  dovecot: PrivateDovecot,
  account: string,
  password: string,
): ReturnType<DriverTarget['openSession']> {
  const session = await holdImapSession(dovecot.imapPort, account, password);
  return {
    ended: async (withinMs) => Promise.race([session.closed.then(() => true), sleepFalse(withinMs)]),
    close: () => session.close(),
  };
}

function sleepFalse(ms: number): Promise<boolean> {
  return new Promise((resolve) => setTimeout(() => resolve(false), ms).unref());
}

/** Every driver and backend the suite proves; the ldap driver adds its factory here. */
export const DRIVER_TARGETS: DriverTargetFactory[] = [
  simulatorOverHttp,
  dovecotSql('postgres', 'columns', true),
  dovecotSql('mysql', 'columns', true),
  dovecotSql('postgres', 'list', false),
  dovecotSql('mysql', 'list', true),
  ldapOnSlapd('attributes'),
  ldapOnSlapd('list'),
];
