/**
 * Real logins (issue 18): a private Dovecot whose passdbs are deploy/dovecot-ldap's example (only the server's
 * address and credentials replaced) asks a private slapd; the driver flips the switches; an IMAP and a POP3 client
 * assert on Dovecot's own answers: refused before, allowed after the driver enables the protocol, refused again
 * after it disables it, and a live IMAP session ended through the doveadm HTTP API.
 *
 * The Dovecot starter here is deliberately small and local to this file (the dovecot-sql driver's helper writes a
 * shared one in libs/testing; the coordinator merges the two).
 */
import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import {
  findOnPath,
  freeLoopbackPort,
  MissingPrerequisite,
  PrivateSlapd,
  repoRoot,
  untilListening,
} from '@app/testing';
import type { Outcome } from '../../outcome';
import { LdapMailstore } from './ldap.mailstore';
import { parseLdapSettings } from './ldap-settings';

const OFF = { reopenImapEnabled: 'FALSE', reopenPop3Enabled: 'FALSE' };
const ALICE = { login: 'alice@example.test', password: 'alice-pw', attributes: OFF };
const BOB = { login: 'bob@example.test', password: 'bob-pw', attributes: OFF };
const API_KEY = 'doveadm-test-key';

let slapd: PrivateSlapd;
let dovecot: PrivateDovecot;
let store: LdapMailstore;
const key = { idempotencyKey: 'login-test' };

beforeAll(async () => {
  slapd = await PrivateSlapd.start([ALICE, BOB]);
  dovecot = await PrivateDovecot.start(slapd);
  store = new LdapMailstore(
    parseLdapSettings({ ...slapd.driverEnv(), DOVEADM_URL: dovecot.doveadmUrl, DOVEADM_API_KEY: API_KEY }),
  );
}, 30_000);

afterAll(async () => {
  await store?.close();
  await dovecot?.stop();
  await slapd?.stop();
});

function ok<T>(outcome: Outcome<T>): T {
  if (outcome.kind !== 'ok') throw new Error(`expected ok, got ${JSON.stringify(outcome)}`);
  return outcome.value;
}

describe('Dovecot with an LDAP passdb, switched by the ldap driver', () => {
  it('refuses both protocols before, opens exactly what the driver enables, and refuses again after it disables', async () => {
    expect(await imapLogin(dovecot.imapPort, ALICE)).toMatch(/^a NO \[CONTACTADMIN\] imap access is not reopened/);
    expect(await pop3Login(dovecot.pop3Port, ALICE)).toMatch(/^-ERR \[AUTH\] pop3 access is not reopened/);

    ok(await store.batch([{ account: ALICE.login, protocols: { imap: true } }], {}, key));
    expect(await imapLogin(dovecot.imapPort, ALICE)).toMatch(/^a OK /);
    expect(await imapLogin(dovecot.imapPort, { ...ALICE, password: 'wrong' })).toMatch(
      /^a NO \[AUTHENTICATIONFAILED\]/,
    );
    expect(await pop3Login(dovecot.pop3Port, ALICE)).toMatch(/^-ERR /);
    expect(await imapLogin(dovecot.imapPort, BOB)).toMatch(/^a NO /);

    ok(await store.batch([{ account: ALICE.login, protocols: { imap: false, pop3: true } }], {}, key));
    expect(await imapLogin(dovecot.imapPort, ALICE)).toMatch(/^a NO \[CONTACTADMIN\]/);
    expect(await pop3Login(dovecot.pop3Port, ALICE)).toMatch(/^\+OK /);

    ok(await store.batch([{ account: ALICE.login, protocols: { pop3: false } }], {}, key));
    expect(await pop3Login(dovecot.pop3Port, ALICE)).toMatch(/^-ERR \[AUTH\]/);
  });

  it('ends a live IMAP session within 2 s when the driver turns IMAP off with revokeSessions', async () => {
    ok(await store.batch([{ account: BOB.login, protocols: { imap: true } }], {}, key));
    const session = await openImapSession(dovecot.imapPort, BOB);
    const started = Date.now();
    const batch = ok(
      await store.batch([{ account: BOB.login, protocols: { imap: false } }], { revokeSessions: true }, key),
    );
    expect(batch.results[0]).toMatchObject({ status: 'applied', sessions: 'revoked' });
    await session.closed;
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(await imapLogin(dovecot.imapPort, BOB)).toMatch(/^a NO \[CONTACTADMIN\]/);
    // Nothing left to end: the contract's `none`.
    ok(await store.batch([{ account: BOB.login, protocols: { imap: true } }], {}, key));
    const again = ok(
      await store.batch([{ account: BOB.login, protocols: { imap: false } }], { revokeSessions: true }, key),
    );
    expect(again.results[0]).toMatchObject({ status: 'applied', sessions: 'none' });
  });
});

/** A Dovecot 2.3 of the test's own: IMAP, POP3 and doveadm HTTP on free loopback ports, config in a temp dir. */
class PrivateDovecot {
  private constructor(
    readonly imapPort: number,
    readonly pop3Port: number,
    private readonly doveadmPort: number,
    private readonly dir: string,
    private readonly child: ChildProcess,
  ) {}

  get doveadmUrl(): string {
    return `http://127.0.0.1:${this.doveadmPort}`;
  }

  static async start(ldap: PrivateSlapd): Promise<PrivateDovecot> {
    const binary = findOnPath('dovecot') ?? findOnPath('dovecot', '/usr/sbin');
    if (!binary) {
      throw new MissingPrerequisite(
        'dovecot is needed (real logins) and is neither on PATH nor in /usr/sbin: install it (Debian: apt-get install ' +
          'dovecot-core dovecot-imapd dovecot-pop3d dovecot-ldap, with a policy-rc.d that keeps the service stopped).',
      );
    }
    const [imapPort, pop3Port, doveadmPort] = [
      await freeLoopbackPort(),
      await freeLoopbackPort(),
      await freeLoopbackPort(),
    ];
    const dir = mkdtempSync(join(tmpdir(), 'reopen-ldap-dovecot-'));
    for (const sub of ['run', 'state', 'mail']) mkdirSync(join(dir, sub));
    // The shipped example, pointed at the private directory as Dovecot's service DN.
    for (const file of ['dovecot-ldap-open.conf.ext', 'dovecot-ldap-refuse.conf.ext']) {
      const example = readFileSync(join(repoRoot(), 'deploy/dovecot-ldap', file), 'utf8');
      writeFileSync(
        join(dir, file),
        example
          .replace(/^uris = .*$/m, `uris = ${ldap.url}`)
          .replace(/^dn = .*$/m, `dn = ${ldap.dovecotDn}`)
          .replace(/^dnpass = .*$/m, `dnpass = ${ldap.dovecotPassword}`)
          .replace(/^base = .*$/m, `base = ${ldap.peopleDn}`),
      );
    }
    // As root, Dovecot's own unprivileged users (Debian creates them); otherwise everything runs as the caller.
    const me = userInfo();
    const [internal, login, mailUser] =
      me.uid === 0 ? ['dovecot', 'dovenull', 'dovecot'] : [me.username, me.username, me.username];
    writeFileSync(
      join(dir, 'dovecot.conf'),
      `base_dir = ${dir}/run
state_dir = ${dir}/state
log_path = ${dir}/dovecot.log
default_internal_user = ${internal}
default_login_user = ${login}
protocols = imap pop3
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
mail_location = maildir:${dir}/mail/%u
first_valid_uid = 1
passdb {
  driver = ldap
  args = ${dir}/dovecot-ldap-open.conf.ext
}
passdb {
  driver = ldap
  args = ${dir}/dovecot-ldap-refuse.conf.ext
}
userdb {
  driver = static
  args = uid=${mailUser} gid=${mailUser} home=${dir}/mail/%u
}
doveadm_api_key = ${API_KEY}
service doveadm {
  inet_listener http {
    address = 127.0.0.1
    port = ${doveadmPort}
  }
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = ${imapPort}
  }
  inet_listener imaps {
    port = 0
  }
}
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = ${pop3Port}
  }
  inet_listener pop3s {
    port = 0
  }
}
`,
    );
    // -F: in the foreground, so the test owns (and stops) the master process.
    const child = spawn(binary, ['-F', '-c', join(dir, 'dovecot.conf')], { stdio: 'ignore' });
    const dovecot = new PrivateDovecot(imapPort, pop3Port, doveadmPort, dir, child);
    try {
      for (const port of [imapPort, pop3Port, doveadmPort]) await untilListening(port, `private dovecot on ${port}`);
    } catch (err) {
      const log = (() => {
        try {
          return readFileSync(join(dir, 'dovecot.log'), 'utf8');
        } catch {
          return '';
        }
      })();
      await dovecot.stop();
      throw new Error(`dovecot did not start: ${(err as Error).message}\n${log}`, { cause: err });
    }
    return dovecot;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = once(this.child, 'exit');
      this.child.kill('SIGTERM');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Reads CRLF lines from a socket, one at a time. */
function lineReader(socket: Socket): () => Promise<string> {
  let buffer = '';
  const lines: string[] = [];
  const waiting: ((line: string) => void)[] = [];
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    buffer += chunk;
    let i: number;
    while ((i = buffer.indexOf('\r\n')) >= 0) {
      const line = buffer.slice(0, i);
      buffer = buffer.slice(i + 2);
      const waiter = waiting.shift();
      if (waiter) waiter(line);
      else lines.push(line);
    }
  });
  return () => {
    const line = lines.shift();
    return line !== undefined ? Promise.resolve(line) : new Promise((resolve) => waiting.push(resolve));
  };
}

async function dial(port: number): Promise<{ socket: Socket; next: () => Promise<string> }> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  const next = lineReader(socket);
  await next(); // greeting
  return { socket, next };
}

/** `a LOGIN user pass` and the tagged answer (untagged lines skipped). */
async function imapLogin(port: number, account: { login: string; password: string }): Promise<string> {
  const { socket, next } = await dial(port);
  try {
    socket.write(`a LOGIN "${account.login}" "${account.password}"\r\n`);
    for (;;) {
      const line = await next();
      if (line.startsWith('a ')) return line;
    }
  } finally {
    socket.destroy();
  }
}

/** Logged in and left open; `closed` resolves when the server ends it. */
async function openImapSession(port: number, account: { login: string; password: string }) {
  const { socket, next } = await dial(port);
  const closed = once(socket, 'close');
  socket.write(`a LOGIN "${account.login}" "${account.password}"\r\n`);
  for (;;) {
    const line = await next();
    if (line.startsWith('a ')) {
      if (!line.startsWith('a OK')) throw new Error(`login refused: ${line}`);
      return { closed };
    }
  }
}

/** `USER` then `PASS`: the answer to PASS (or to USER when it is refused). */
async function pop3Login(port: number, account: { login: string; password: string }): Promise<string> {
  const { socket, next } = await dial(port);
  try {
    socket.write(`USER ${account.login}\r\n`);
    const user = await next();
    if (!user.startsWith('+OK')) return user;
    socket.write(`PASS ${account.password}\r\n`);
    return await next();
  } finally {
    socket.destroy();
  }
}
