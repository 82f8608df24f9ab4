import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { readLoginEvent } from '@app/domain';
import { createPassdbDatabase, type PassdbDatabase } from './passdb-database';
import { imapLogin, pop3Login } from './mail-clients';
import { pollUntil } from './poll-until';
import { startPrivateDovecot, type PrivateDovecot } from './private-dovecot';

/**
 * What a posted event is counted for, on Dovecots set up as providers run them:
 * - users log in with the local part only (`auth_default_realm`): the passdb, and so the service's accounts, know
 *   `ann@example.test`; the client typed `ann` or `Ann`. The login must be the passdb's name (the event's `user`), not
 *   what the client typed (`original_user`), or every such login counts for an account nobody has;
 * - a webmail (or a proxy) in `login_trusted_networks` forwards each client's address (IMAP `ID x-originating-ip`, as
 *   Roundcube's dovecot_client_ip plugin does): the client is `remote_ip`, `real_remote_ip` the webmail itself. Read the
 *   other way, a stuffing attack through the webmail came from one address and the per-account reaction never fired.
 */
describe('login events of a Dovecot with a default realm, behind a webmail', () => {
  let passdb: PassdbDatabase;
  let dovecot: PrivateDovecot;
  let server: Server;
  const posts: unknown[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        posts.push(JSON.parse(body));
        res.writeHead(202).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    passdb = await createPassdbDatabase('postgres', 'columns');
    await passdb.addAccounts([{ login: 'ann@example.test', password: 'pw of ann' }]);
    await passdb.exec('UPDATE mail_users SET imap_enabled = TRUE, pop3_enabled = TRUE');
    dovecot = await startPrivateDovecot(passdb, {
      events: { loginEventsUrl: `http://127.0.0.1:${port}/api/v1/login-events?key=k` },
      extraConfig: ['auth_default_realm = example.test', 'login_trusted_networks = 127.0.0.0/8'],
    });
  });

  afterAll(async () => {
    await dovecot?.stop();
    await passdb?.drop();
    server?.close();
  });

  /** An IMAP login by a webmail on behalf of a client at `client` (ID x-originating-ip, then LOGIN). */
  async function viaWebmail(client: string, login: string, password: string): Promise<string> {
    const socket = connect(dovecot.imapPort, '127.0.0.1');
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString()));
    try {
      await pollUntil(() => text.includes('* OK'), { description: 'greeting' });
      socket.write(`a0 ID ("x-originating-ip" "${client}")\r\n`);
      await pollUntil(() => text.includes('a0 OK'), { description: 'ID accepted' });
      socket.write(`a1 LOGIN ${login} "${password}"\r\n`);
      await pollUntil(() => /^a1 /m.test(text), { description: 'LOGIN answered' });
      return /^a1 .*$/m.exec(text)![0];
    } finally {
      socket.destroy();
    }
  }

  const read = (p: unknown) => readLoginEvent(p, new Date(), { maxAgeMs: 600_000, maxSkewMs: 60_000 });

  it('reads the client a trusted webmail forwards as the address, not the webmail', async () => {
    posts.length = 0;
    expect(await viaWebmail('198.51.100.7', 'ann', 'wrong')).toMatch(/^a1 NO /);
    expect(await viaWebmail('2001:db8::8', 'ann', 'wrong')).toMatch(/^a1 NO /);
    await pollUntil(() => posts.length >= 2, { timeoutMs: 10_000, description: 'two events posted' });
    expect(posts.map((p) => (p as { fields: Record<string, unknown> }).fields.real_remote_ip)).toEqual([
      '127.0.0.1',
      '127.0.0.1',
    ]);
    expect(posts.map((p) => read(p)).map((e) => (typeof e === 'string' ? e : e.remoteIp))).toEqual(
      expect.arrayContaining(['198.51.100.7', '2001:db8::8']),
    );
  });

  it('each login, typed as the local part, is read as the passdb account', async () => {
    posts.length = 0;
    expect((await imapLogin(dovecot.imapPort, 'ann', 'wrong')).ok).toBe(false);
    expect((await pop3Login(dovecot.pop3Port, 'Ann', 'wrong')).ok).toBe(false);
    expect((await imapLogin(dovecot.imapPort, 'ann', 'pw of ann')).ok).toBe(true);
    await pollUntil(() => posts.length >= 3, { timeoutMs: 10_000, description: 'three events posted' });
    expect(posts.map((p) => read(p)).map((e) => (typeof e === 'string' ? e : [e.login, e.success]))).toEqual(
      expect.arrayContaining([
        ['ann@example.test', false],
        ['ann@example.test', false],
        ['ann@example.test', true],
      ]),
    );
  });
});
