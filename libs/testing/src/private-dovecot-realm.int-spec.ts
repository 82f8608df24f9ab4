import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readLoginEvent } from '@app/domain';
import { createPassdbDatabase, type PassdbDatabase } from './passdb-database';
import { imapLogin, pop3Login } from './mail-clients';
import { pollUntil } from './poll-until';
import { startPrivateDovecot, type PrivateDovecot } from './private-dovecot';

/**
 * A Dovecot where users log in with the local part only (`auth_default_realm`): the passdb, and so the service's
 * accounts, know `ann@example.test`; the client typed `ann` or `Ann`. The login a posted event is counted for must be
 * the passdb's name (the event's `user`), not what the client typed (`original_user`), or every such login is counted
 * for an account nobody has and the login gates and the per-account reaction see nothing.
 */
describe('login events of a Dovecot with a default realm', () => {
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
      extraConfig: ['auth_default_realm = example.test'],
    });
  });

  afterAll(async () => {
    await dovecot?.stop();
    await passdb?.drop();
    server?.close();
  });

  it('each login, typed as the local part, is read as the passdb account', async () => {
    expect((await imapLogin(dovecot.imapPort, 'ann', 'wrong')).ok).toBe(false);
    expect((await pop3Login(dovecot.pop3Port, 'Ann', 'wrong')).ok).toBe(false);
    expect((await imapLogin(dovecot.imapPort, 'ann', 'pw of ann')).ok).toBe(true);
    await pollUntil(() => posts.length >= 3, { timeoutMs: 10_000, description: 'three events posted' });
    const read = posts.map((p) => readLoginEvent(p, new Date(), { maxAgeMs: 600_000, maxSkewMs: 60_000 }));
    expect(read.map((e) => (typeof e === 'string' ? e : [e.login, e.success]))).toEqual(
      expect.arrayContaining([
        ['ann@example.test', false],
        ['ann@example.test', false],
        ['ann@example.test', true],
      ]),
    );
  });
});
