import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { PassdbDatabase } from './passdb-database';
import { PrivateSlapd } from './private-slapd';
import { pollUntil } from './poll-until';
import { freeLoopbackPorts, untilListening } from './ports';
import { MissingPrerequisite } from './prerequisites';
import { repoRoot } from './worker-process';

/**
 * A Dovecot of the test's own (Debian's dovecot 2.3 packages), never the system service: its config, base_dir,
 * state and maildirs live in a temp folder, it listens on free loopback ports, and stop() ends it and removes the
 * folder. Its passdb is the shipped example as is (deploy/dovecot/'s SQL query, only `connect` replaced; or
 * deploy/dovecot-ldap/'s pair, pointed at a private slapd), so the tests prove the documented examples. The auth cache is off (Dovecot's default, said explicitly): the next login sees a
 * change. Passwords are `{PLAIN}` in the passdb; userdb is static.
 *
 * As root (CI, these machines) the master runs as root and drops to Dovecot's own users (`dovecot`, `dovenull`, the
 * mail processes as `dovecot`), as a packaged Dovecot does; as another user everything runs as that user.
 */
export interface PrivateDovecot {
  imapPort: number;
  pop3Port: number;
  /** The doveadm HTTP API (DOVEADM_URL) and its key (DOVEADM_API_KEY). */
  doveadmUrl: string;
  doveadmApiKey: string;
  /** With `events`: the stats HTTP listener (OpenMetrics at /metrics, dovecot_auth_failures_total among them). */
  statsPort?: number;
  /**
   * With `events`: points the login-event exporter at another URL (null: the metric exports to nothing, the stream
   * is cut) and reloads Dovecot (SIGHUP, as `doveadm reload`); resolves once the master has read the new config.
   */
  exportLoginEventsTo(url: string | null): Promise<void>;
  /** Dovecot's log so far (for a failing assertion's message). */
  log(): string;
  stop(): Promise<void>;
}

export const DOVECOT_BIN = process.env.DOVECOT_BIN ?? '/usr/sbin/dovecot';
// From source or from dist (the demo runs it built): the folder of package.json.
const REPO_ROOT = repoRoot();

export interface PrivateDovecotOptions {
  /**
   * deploy/dovecot/events.conf as is: its exporter posts each finished login to `loginEventsUrl` (null: exports to
   * nothing yet), its stats listener on a free port (`statsPort`).
   */
  events?: { loginEventsUrl: string | null };
  /** More lines for dovecot.conf, after everything else. */
  extraConfig?: readonly string[];
  /**
   * A slapd passdb: which of deploy/dovecot-ldap's two documented filters admits a login, one boolean attribute per
   * protocol (its active line, the default) or one multi-valued attribute of allowed protocols (its commented line).
   */
  ldapLayout?: 'attributes' | 'list';
}

/** deploy/dovecot/events.conf, the documented example, with its URL and stats port set (the example's only values). */
export function dovecotEventsConfig(loginEventsUrl: string | null, statsPort: number): string {
  const example = readFileSync(join(REPO_ROOT, 'deploy', 'dovecot', 'events.conf'), 'utf8');
  const set = (text: string, line: RegExp, value: string) => {
    if (!line.test(text)) throw new Error(`deploy/dovecot/events.conf has no line ${String(line)}`);
    return text.replace(line, value);
  };
  // Dovecot reads a value to the end of the line: a URL with ?key= needs no quoting, a '#' would start a comment.
  if (loginEventsUrl?.includes('#')) throw new Error('a login-events URL for Dovecot cannot hold #');
  const conf = set(
    set(example, /^ {4}port = 9900$/m, `    port = ${statsPort}`),
    /^ {2}transport_args = .*$/m,
    `  transport_args = ${loginEventsUrl ?? 'http://127.0.0.1:9/'}`,
  );
  return loginEventsUrl === null ? set(conf, /^ {2}exporter = reopen\n/m, '') : conf;
}

/** What Dovecot's SQL passdb needs of a passdb database: its dialect, layout and connect line (a PassdbDatabase is one). */
export type SqlPassdb = Pick<PassdbDatabase, 'dialect' | 'layout' | 'dovecotConnect'>;

/** The example query file of deploy/dovecot/ for this database and layout. */
export function dovecotSqlExample(passdb: Pick<PassdbDatabase, 'dialect' | 'layout'>): string {
  const file = `dovecot-sql${passdb.layout === 'list' ? '-list' : ''}.${passdb.dialect === 'postgres' ? 'pgsql' : 'mysql'}.conf.ext`;
  return join(REPO_ROOT, 'deploy', 'dovecot', file);
}

export function requireDovecot(): void {
  if (!existsSync(DOVECOT_BIN)) {
    throw new MissingPrerequisite(
      `Dovecot is needed (real IMAP/POP3 logins) and ${DOVECOT_BIN} is missing: install it (Debian: apt-get install ` +
        `dovecot-core dovecot-imapd dovecot-pop3d dovecot-pgsql dovecot-mysql; a policy-rc.d that exits 101 keeps ` +
        `apt from starting the system service) or set DOVECOT_BIN.`,
    );
  }
}

/**
 * `passdb`: a passdb database (deploy/dovecot/'s SQL query), or a private slapd (deploy/dovecot-ldap/'s two LDAP
 * passdbs, pointed at it as Dovecot's own service DN).
 */
export async function startPrivateDovecot(
  passdb: SqlPassdb | PrivateSlapd,
  options: PrivateDovecotOptions = {},
): Promise<PrivateDovecot> {
  requireDovecot();
  const dir = mkdtempSync(join(tmpdir(), 'reopen-dovecot-'));
  chmodSync(dir, 0o755);
  const asRoot = process.getuid?.() === 0;
  const me = userInfo().username;
  const [imapPort, pop3Port, httpPort, eventsPort] = await freeLoopbackPorts(4);
  const statsPort: number | undefined = options.events ? eventsPort : undefined;
  const apiKey = `test-${randomBytes(12).toString('hex')}`;
  const mail = join(dir, 'mail');
  mkdirSync(mail);
  if (asRoot) {
    const [uid, gid] = idsOf('dovecot');
    chownSync(mail, uid, gid);
  }

  const passdbBlocks = writePassdbs(dir, passdb, options.ldapLayout ?? 'attributes');
  // The events part in a file of its own, rewritten by exportLoginEventsTo.
  const eventsConf = join(dir, 'events.conf');
  const writeEvents = (url: string | null) => writeFileSync(eventsConf, dovecotEventsConfig(url, statsPort!));
  if (options.events) writeEvents(options.events.loginEventsUrl);
  const conf = join(dir, 'dovecot.conf');
  writeFileSync(
    conf,
    [
      `base_dir = ${join(dir, 'run')}`,
      `state_dir = ${join(dir, 'state')}`,
      `instance_name = reopen-test-${imapPort}`,
      `log_path = ${join(dir, 'dovecot.log')}`,
      'protocols = imap pop3',
      'listen = 127.0.0.1',
      'ssl = no',
      // Plaintext logins over loopback without TLS: the test client speaks LOGIN and USER/PASS.
      'disable_plaintext_auth = no',
      'auth_mechanisms = plain login',
      'auth_cache_size = 0',
      // A failed login is answered at once (Dovecot waits up to 2 s by default): the tests assert on many refusals.
      'auth_failure_delay = 0',
      'first_valid_uid = 1',
      ...(asRoot ? [] : [`default_internal_user = ${me}`, `default_login_user = ${me}`]),
      `mail_location = maildir:${mail}/%u`,
      ...passdbBlocks,
      `userdb {\n  driver = static\n  args = uid=${asRoot ? 'dovecot' : me} gid=${asRoot ? 'dovecot' : groupOf()} home=${mail}/%u\n}`,
      `service imap-login {\n  inet_listener imap {\n    address = 127.0.0.1\n    port = ${imapPort}\n  }\n  inet_listener imaps {\n    port = 0\n  }\n}`,
      `service pop3-login {\n  inet_listener pop3 {\n    address = 127.0.0.1\n    port = ${pop3Port}\n  }\n  inet_listener pop3s {\n    port = 0\n  }\n}`,
      `service doveadm {\n  inet_listener http {\n    address = 127.0.0.1\n    port = ${httpPort}\n  }\n}`,
      `doveadm_api_key = ${apiKey}`,
      // No growing delay per IP after failed logins (anvil's auth penalty): the tests refuse many logins from 127.0.0.1.
      'service anvil {\n  unix_listener anvil-auth-penalty {\n    mode = 0\n  }\n}',
      ...(options.events ? [`!include ${eventsConf}`] : []),
      ...(options.extraConfig ?? []),
      '',
    ].join('\n'),
  );

  const log = () => (existsSync(join(dir, 'dovecot.log')) ? readFileSync(join(dir, 'dovecot.log'), 'utf8') : '');
  // In the foreground (-F), as a child of this process: a daemonized master would keep the test's stdio pipes open.
  const child = spawn(DOVECOT_BIN, ['-F', '-c', conf], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    // The master ends its children on SIGTERM but takes seconds to (its auth process holds SQL connections); the
    // instance is a process group of its own (detached), so what is left after a short grace is killed as a group.
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      const group = -child.pid;
      signalGroup(group, 'SIGTERM');
      const ended = await Promise.race([
        exited.then(() => true),
        sleep(1_500, undefined, { ref: false }).then(() => false),
      ]);
      if (!ended) signalGroup(group, 'SIGKILL');
      await exited;
    }
    signalGroup(-(child.pid ?? 0), 'SIGKILL'); // children that outlived the master
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await Promise.all([
      untilListening(imapPort, 'dovecot imap'),
      untilListening(pop3Port, 'dovecot pop3'),
      untilListening(httpPort, 'dovecot doveadm http'),
      ...(statsPort === undefined ? [] : [untilListening(statsPort, 'dovecot stats http')]),
    ]);
  } catch (err) {
    const text = `${stderr}${log()}`;
    await stop();
    throw new Error(`${(err as Error).message}; dovecot log:\n${text}`, { cause: err });
  }
  return {
    imapPort,
    pop3Port,
    doveadmUrl: `http://127.0.0.1:${httpPort}/doveadm/v1`,
    doveadmApiKey: apiKey,
    statsPort,
    exportLoginEventsTo: async (url) => {
      if (!options.events) throw new Error('startPrivateDovecot was not given `events`');
      writeEvents(url);
      const reloads = () => log().split('reloading configuration').length;
      const before = reloads();
      child.kill('SIGHUP'); // the master only (it restarts its children itself), not the group
      await pollUntil(async () => reloads() > before, { timeoutMs: 10_000, description: 'dovecot reloaded' });
    },
    log,
    stop,
  };
}

/** Writes the passdb files of the example config into `dir`; returns the passdb blocks of dovecot.conf. */
function writePassdbs(dir: string, passdb: SqlPassdb | PrivateSlapd, ldapLayout: 'attributes' | 'list'): string[] {
  if (passdb instanceof PrivateSlapd) {
    return ['dovecot-ldap-open.conf.ext', 'dovecot-ldap-refuse.conf.ext'].map((file) => {
      const example = readFileSync(join(REPO_ROOT, 'deploy', 'dovecot-ldap', file), 'utf8');
      const filtered = ldapLayout === 'attributes' ? example : listFilter(example, file);
      writeFileSync(
        join(dir, file),
        filtered
          .replace(/^uris = .*$/m, `uris = ${passdb.url}`)
          .replace(/^dn = .*$/m, `dn = ${passdb.dovecotDn}`)
          .replace(/^dnpass = .*$/m, `dnpass = ${passdb.dovecotPassword}`)
          .replace(/^base = .*$/m, `base = ${passdb.peopleDn}`),
        { mode: 0o600 },
      );
      return `passdb {\n  driver = ldap\n  args = ${join(dir, file)}\n}`;
    });
  }
  const example = readFileSync(dovecotSqlExample(passdb), 'utf8');
  if (!/^connect = .*$/m.test(example)) throw new Error(`${dovecotSqlExample(passdb)} has no connect line`);
  writeFileSync(
    join(dir, 'dovecot-sql.conf.ext'),
    example.replace(/^connect = .*$/m, `connect = ${passdb.dovecotConnect}`),
    { mode: 0o600 },
  );
  return [`passdb {\n  driver = sql\n  args = ${join(dir, 'dovecot-sql.conf.ext')}\n}`];
}

/** The example with its commented list filter in force instead of its boolean-attribute one (the open passdb only). */
function listFilter(example: string, file: string): string {
  if (!/^pass_filter = .*reopenImapEnabled/m.test(example)) return example;
  const list = /^# (pass_filter = .*reopenAllowedProtocol.*)$/m.exec(example);
  if (!list) throw new Error(`deploy/dovecot-ldap/${file} has no commented list pass_filter`);
  return example.replace(/^pass_filter = .*reopenImapEnabled.*$/m, list[1]);
}

function signalGroup(group: number, signal: NodeJS.Signals): void {
  if (group >= 0) return;
  try {
    process.kill(group, signal);
  } catch {
    // already gone
  }
}

function idsOf(user: string): [number, number] {
  const r = spawnSync('id', ['-u', user], { encoding: 'utf8' });
  const g = spawnSync('id', ['-g', user], { encoding: 'utf8' });
  if (r.status !== 0 || g.status !== 0) {
    throw new MissingPrerequisite(`the '${user}' user of the Dovecot packages is missing: reinstall dovecot-core`);
  }
  return [Number(r.stdout.trim()), Number(g.stdout.trim())];
}

function groupOf(): string {
  return spawnSync('id', ['-gn'], { encoding: 'utf8' }).stdout.trim();
}
