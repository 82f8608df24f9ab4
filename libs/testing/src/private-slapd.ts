import { ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Attribute, Change, Client, EqualityFilter } from 'ldapts';
import { pollUntil } from './poll-until';
import { freeLoopbackPorts, untilListening } from './ports';
import { makeCertificates } from './test-certificates';
import { findOnPath, MissingPrerequisite } from './prerequisites';
import { repoRoot } from './worker-process';

/** An account seeded into the private directory: its login (`uid`), password and switch attributes. */
export interface SlapdAccount {
  login: string;
  password: string;
  /** Extra attributes of the entry, e.g. `{ reopenImapEnabled: 'FALSE' }`. */
  attributes?: Record<string, string | string[]>;
}

const BASE_DN = 'dc=example,dc=test';
const ADMIN_PASSWORD = 'admin-secret';

/**
 * An OpenLDAP `slapd` of the test's own (issue 18): a generated slapd.conf in a temp directory (mdb backend, the
 * stock core/cosine/inetorgperson schemas plus the project's deploy/dovecot-ldap/reopen-access.schema for the
 * switch attributes), on a free loopback port, stopped (and its directory removed) by `stop()`.
 *
 * Two service DNs, with the access an operator would give them:
 * - `serviceDn` (the driver): may write the switch and version attributes, read the rest, never userPassword;
 * - `dovecotDn` (Dovecot's passdb): may read userPassword to check logins.
 * The monitor backend counts the connections open (`connections()`), so a test can see the driver's pool from the
 * server's side. Runs as root here (CI) or as any user: everything lives in the temp directory.
 */
export class PrivateSlapd {
  readonly baseDn = BASE_DN;
  readonly peopleDn = `ou=people,${BASE_DN}`;
  readonly serviceDn = `cn=reopen-access,ou=services,${BASE_DN}`;
  readonly servicePassword = 'service-secret';
  readonly dovecotDn = `cn=dovecot,ou=services,${BASE_DN}`;
  readonly dovecotPassword = 'dovecot-secret';
  private readonly adminDn = `cn=admin,${BASE_DN}`;
  private child: ChildProcess | undefined;
  private output = '';
  /** With `tls`: the port of its ldaps:// listener. */
  private tlsPort: number | undefined;

  private constructor(
    readonly port: number,
    private readonly dir: string,
    private readonly binary: string,
  ) {}

  /**
   * Starts it with the base entries, the two service DNs and `accounts`. `tls`: a certificate for 127.0.0.1 from a CA
   * of its own (`caFile`), StartTLS on `url`, an ldaps:// listener (`ldapsUrl`), and simple binds refused outside TLS
   * (`security simple_bind`): a client that binds has proven its password went inside TLS.
   */
  static async start(
    accounts: readonly SlapdAccount[] = [],
    options: { sizeLimit?: number; tls?: boolean } = {},
  ): Promise<PrivateSlapd> {
    const binary = requireSlapd();
    const dir = mkdtempSync(join(tmpdir(), 'reopen-slapd-'));
    const [port, tlsPort] = await freeLoopbackPorts(options.tls ? 2 : 1);
    const slapd = new PrivateSlapd(port, dir, binary);
    mkdirSync(join(dir, 'db'));
    if (options.tls) {
      slapd.tlsPort = tlsPort;
      makeCertificates(dir);
    }
    writeFileSync(join(dir, 'slapd.conf'), slapd.config(options.sizeLimit));
    try {
      await slapd.run();
      await slapd.asAdmin((c) => slapd.seedBase(c));
      await slapd.seed(accounts);
    } catch (err) {
      await slapd.stop();
      throw err;
    }
    return slapd;
  }

  get url(): string {
    return `ldap://127.0.0.1:${this.port}`;
  }

  /** With `tls`: its ldaps:// listener. */
  get ldapsUrl(): string {
    if (this.tlsPort === undefined) throw new Error('this slapd was started without tls');
    return `ldaps://127.0.0.1:${this.tlsPort}`;
  }

  /** With `tls`: the PEM file of the CA that signed its certificate. */
  get caFile(): string {
    return join(this.dir, 'ca.pem');
  }

  /** The ldap driver's settings for this directory (one boolean attribute per protocol, or the list mode). */
  driverEnv(mode: 'attributes' | 'list' = 'attributes'): Record<string, string> {
    const switches: Record<string, string> =
      mode === 'attributes'
        ? { LDAP_IMAP_ATTRIBUTE: 'reopenImapEnabled', LDAP_POP3_ATTRIBUTE: 'reopenPop3Enabled' }
        : { LDAP_PROTOCOLS_ATTRIBUTE: 'reopenAllowedProtocol' };
    return {
      LDAP_URL: this.url,
      LDAP_BIND_DN: this.serviceDn,
      LDAP_BIND_PASSWORD: this.servicePassword,
      LDAP_BASE_DN: this.peopleDn,
      LDAP_LOGIN_ATTRIBUTE: 'uid',
      LDAP_FILTER: '(objectClass=reopenAccessAccount)',
      LDAP_VERSION_ATTRIBUTE: 'reopenAccessVersion',
      ...switches,
    };
  }

  /** Adds accounts (entries under `peopleDn`, objectClass inetOrgPerson + reopenAccessAccount). */
  async seed(accounts: readonly SlapdAccount[]): Promise<void> {
    await this.asAdmin(async (c) => {
      for (const a of accounts) {
        await c.add(`uid=${a.login},${this.peopleDn}`, {
          objectClass: ['inetOrgPerson', 'reopenAccessAccount'],
          uid: a.login,
          cn: a.login,
          sn: a.login,
          userPassword: ssha(a.password),
          ...a.attributes,
        });
      }
    });
  }

  /** An entry's attributes as the directory holds them (read as the admin, so the test sees the truth). */
  async entry(login: string): Promise<Record<string, string[]>> {
    return this.asAdmin(async (c) => {
      const dn = await this.findDn(c, login);
      if (dn === undefined) return {};
      const { searchEntries } = await c.search(dn, { scope: 'base' });
      const out: Record<string, string[]> = {};
      for (const [key, value] of Object.entries(searchEntries[0] ?? {})) {
        if (key !== 'dn') out[key] = (Array.isArray(value) ? value : [value]).map(String);
      }
      return out;
    });
  }

  /** Replaces attributes of an entry as the admin: a change made by someone else than the driver. */
  async replace(login: string, attributes: Record<string, string[]>): Promise<void> {
    await this.asAdmin(async (c) =>
      c.modify(
        await this.dnOf(c, login),
        Object.entries(attributes).map(
          ([type, values]) => new Change({ operation: 'replace', modification: new Attribute({ type, values }) }),
        ),
      ),
    );
  }

  /**
   * Moves an entry to `ou=<ou>` under `peopleDn` (created if need be), its RDN and attributes kept: a directory
   * reorganised by someone else while the driver works. The entry is still found by its login (subtree search).
   */
  async move(login: string, ou = 'moved'): Promise<void> {
    await this.asAdmin(async (c) => {
      const parent = `ou=${ou},${this.peopleDn}`;
      const { searchEntries } = await c.search(this.peopleDn, { scope: 'one', filter: `(ou=${ou})` });
      if (searchEntries.length === 0) await c.add(parent, { objectClass: 'organizationalUnit', ou });
      const dn = await this.dnOf(c, login);
      await c.modifyDN(dn, `${dn.slice(0, dn.indexOf(','))},${parent}`);
    });
  }

  /** Connections open to the server now, from its monitor backend (our own admin connection included). */
  async connections(): Promise<number> {
    return this.asAdmin(async (c) => {
      const { searchEntries } = await c.search('cn=Current,cn=Connections,cn=Monitor', {
        scope: 'base',
        attributes: ['monitorCounter'],
      });
      return Number(searchEntries[0]?.monitorCounter);
    });
  }

  /** The process stops answering but keeps its sockets (SIGSTOP): a frozen host. Resolves once it is stopped. */
  async freeze(): Promise<void> {
    const pid = this.child?.pid;
    if (pid === undefined) return;
    this.child?.kill('SIGSTOP');
    // The signal is delivered asynchronously: a request sent right after kill() could still be answered.
    await pollUntil(() => /^\d+ \(.*\) T /.test(readFileSync(`/proc/${pid}/stat`, 'utf8')), {
      timeoutMs: 2_000,
      description: `slapd ${pid} stopped`,
    });
  }

  thaw(): void {
    this.child?.kill('SIGCONT');
  }

  /** Stops the process (its data stay: `restart()` brings the same directory back on the same port). */
  async kill(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGCONT');
    child.kill('SIGKILL');
    await exited;
  }

  async restart(): Promise<void> {
    await this.kill();
    await this.run();
  }

  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async run(): Promise<void> {
    // -d 0: stay in the foreground (the test owns the process), no debug output.
    const urls = [`${this.url}/`, ...(this.tlsPort === undefined ? [] : [`${this.ldapsUrl}/`])].join(' ');
    const child = spawn(this.binary, ['-f', join(this.dir, 'slapd.conf'), '-h', urls, '-d', '0'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    const keep = (chunk: Buffer) => (this.output = (this.output + chunk.toString()).slice(-4000));
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    try {
      await untilListening(this.port, `private slapd up on ${this.port}`);
      if (this.tlsPort !== undefined) await untilListening(this.tlsPort, `private slapd's ldaps on ${this.tlsPort}`);
    } catch (err) {
      throw new Error(`slapd did not start: ${(err as Error).message}\n${this.output}`, { cause: err });
    }
  }

  /** The DN of the entry with this login, wherever it is under `peopleDn`; undefined when there is none. */
  private async findDn(c: Client, login: string): Promise<string | undefined> {
    const { searchEntries } = await c.search(this.peopleDn, {
      scope: 'sub',
      filter: new EqualityFilter({ attribute: 'uid', value: login }),
      attributes: ['1.1'],
    });
    if (searchEntries.length > 1) throw new Error(`${searchEntries.length} entries have uid ${login}`);
    return searchEntries[0]?.dn;
  }

  private async dnOf(c: Client, login: string): Promise<string> {
    const dn = await this.findDn(c, login);
    if (dn === undefined) throw new Error(`no entry has uid ${login}`);
    return dn;
  }

  private async asAdmin<T>(fn: (c: Client) => Promise<T>): Promise<T> {
    const c = new Client({ url: this.url, timeout: 5_000, connectTimeout: 2_000 });
    try {
      if (this.tlsPort !== undefined) await c.startTLS({ ca: [readFileSync(this.caFile, 'utf8')], host: '127.0.0.1' });
      await c.bind(this.adminDn, ADMIN_PASSWORD);
      return await fn(c);
    } finally {
      await c.unbind().catch(() => undefined);
    }
  }

  /** `sizeLimit`: the most entries a search returns to anyone but the admin (OpenLDAP's default: 500). */
  private config(sizeLimit?: number): string {
    const schema = '/etc/ldap/schema';
    const quoted = (s: string) => `"${s}"`;
    return [
      `include ${schema}/core.schema`,
      `include ${schema}/cosine.schema`,
      `include ${schema}/nis.schema`,
      `include ${schema}/inetorgperson.schema`,
      `include ${join(repoRoot(), 'deploy/dovecot-ldap/reopen-access.schema')}`,
      `pidfile ${join(this.dir, 'slapd.pid')}`,
      ...(this.tlsPort === undefined
        ? []
        : [
            `TLSCACertificateFile ${join(this.dir, 'ca.pem')}`,
            `TLSCertificateFile ${join(this.dir, 'server.pem')}`,
            `TLSCertificateKeyFile ${join(this.dir, 'server.key')}`,
            'security simple_bind=64',
          ]),
      `argsfile ${join(this.dir, 'slapd.args')}`,
      'modulepath /usr/lib/ldap',
      'moduleload back_mdb',
      '',
      'database mdb',
      `suffix ${quoted(BASE_DN)}`,
      `rootdn ${quoted(this.adminDn)}`,
      `rootpw ${ADMIN_PASSWORD}`,
      `directory ${join(this.dir, 'db')}`,
      ...(sizeLimit === undefined ? [] : [`sizelimit ${sizeLimit}`]),
      'maxsize 104857600',
      'index objectClass eq',
      'index uid eq',
      // The driver's DN writes only the switches; Dovecot's reads passwords; accounts bind with theirs.
      'access to attrs=userPassword',
      `  by dn.exact=${quoted(this.dovecotDn)} read`,
      '  by anonymous auth',
      '  by * none',
      'access to attrs=reopenImapEnabled,reopenPop3Enabled,reopenAllowedProtocol,reopenAccessVersion',
      `  by dn.exact=${quoted(this.serviceDn)} write`,
      '  by users read',
      'access to *',
      '  by users read',
      '  by * none',
      '',
      'database monitor',
      `access to dn.subtree="cn=Monitor" by dn.exact=${quoted(this.adminDn)} read by * none`,
      '',
    ].join('\n');
  }

  private async seedBase(c: Client): Promise<void> {
    await c.add(BASE_DN, { objectClass: ['dcObject', 'organization'], o: 'example', dc: 'example' });
    for (const ou of ['people', 'services']) {
      await c.add(`ou=${ou},${BASE_DN}`, { objectClass: 'organizationalUnit', ou });
    }
    for (const [dn, password] of [
      [this.serviceDn, this.servicePassword],
      [this.dovecotDn, this.dovecotPassword],
    ]) {
      await c.add(dn, {
        objectClass: ['applicationProcess', 'simpleSecurityObject'],
        cn: dn.slice(3, dn.indexOf(',')),
        userPassword: ssha(password),
      });
    }
  }
}

/** `{SSHA}` of a password (SHA-1 of password + 8-byte salt, then the salt), as slappasswd makes it. */
function ssha(password: string): string {
  const salt = randomBytes(8);
  const digest = createHash('sha1').update(password).update(salt).digest();
  return `{SSHA}${Buffer.concat([digest, salt]).toString('base64')}`;
}

/** slapd on PATH or in /usr/sbin (Debian's place, often off a non-root PATH), or the one line saying how to get it. */
function requireSlapd(): string {
  const found = findOnPath('slapd') ?? findOnPath('slapd', '/usr/sbin');
  if (!found) {
    throw new MissingPrerequisite(
      'slapd is needed (this test runs an OpenLDAP directory of its own) and is neither on PATH nor in /usr/sbin: ' +
        'install it (Debian: apt-get install slapd ldap-utils, with a policy-rc.d that keeps the service stopped).',
    );
  }
  return found;
}
