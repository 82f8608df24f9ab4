import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createPassdbDatabase, type PassdbDatabase } from './passdb-database';
import { imapLogin, pop3Login } from './mail-clients';
import { pollUntil } from './poll-until';
import { startPrivateDovecot, type PrivateDovecot } from './private-dovecot';

/**
 * deploy/dovecot/events.conf as is (its URL and stats port set) on a real Dovecot: what it posts per login, what its
 * stats listener counts, and that pointing the exporter at nothing stops the posts. The service's side of the stream
 * is test/e2e/login-gates-real.e2e-spec.ts.
 */
describe('deploy/dovecot/events.conf on a real Dovecot', () => {
  let passdb: PassdbDatabase;
  let dovecot: PrivateDovecot;
  let server: Server;
  const posts: { url: string; body: Record<string, unknown> }[] = [];
  const ann = { login: 'ann@example.test', password: 'pw of ann' };

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        posts.push({ url: req.url ?? '', body: JSON.parse(body) as Record<string, unknown> });
        res.writeHead(202).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    passdb = await createPassdbDatabase('postgres', 'columns');
    await passdb.addAccounts([ann]);
    await passdb.exec('UPDATE mail_users SET imap_enabled = TRUE, pop3_enabled = TRUE');
    dovecot = await startPrivateDovecot(passdb, {
      events: { loginEventsUrl: `http://127.0.0.1:${port}/api/v1/login-events?key=rk_signals_0_secret` },
    });
  });

  afterAll(async () => {
    await dovecot?.stop();
    await passdb?.drop();
    server?.close();
  });

  const failuresCounted = async () => {
    const text = await (await fetch(`http://127.0.0.1:${dovecot.statsPort}/metrics`)).text();
    const line = /^dovecot_auth_failures_total (\d+)/m.exec(text);
    return line ? Number(line[1]) : 0;
  };

  it('posts one JSON event per finished login, with the key in the URL, and a failure without `success`', async () => {
    expect((await imapLogin(dovecot.imapPort, ann.login, ann.password)).ok).toBe(true);
    expect((await pop3Login(dovecot.pop3Port, ann.login, 'wrong')).ok).toBe(false);
    await pollUntil(() => posts.length >= 2, { timeoutMs: 10_000, description: 'two events posted' });
    expect(posts).toHaveLength(2);
    expect(posts.map((p) => p.url)).toEqual(Array(2).fill('/api/v1/login-events?key=rk_signals_0_secret'));
    const [ok, failed] = [...posts].sort((a, b) => String(a.body.end_time).localeCompare(String(b.body.end_time)));
    expect(ok.body).toMatchObject({
      event: 'auth_request_finished',
      end_time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      fields: { service: 'imap', user: ann.login, remote_ip: '127.0.0.1', success: 'yes' },
    });
    expect(failed.body).toMatchObject({ event: 'auth_request_finished', fields: { service: 'pop3' } });
    expect(failed.body.fields).not.toHaveProperty('success');
  });

  it('counts failed logins only on the stats listener (dovecot_auth_failures_total)', async () => {
    const before = await failuresCounted();
    expect(before).toBeGreaterThanOrEqual(1);
    await imapLogin(dovecot.imapPort, ann.login, 'wrong');
    await imapLogin(dovecot.imapPort, ann.login, ann.password);
    await pollUntil(async () => (await failuresCounted()) === before + 1, { description: 'one more failure' });
  });

  it('posts nothing once the exporter points at nothing (a reload), and posts again when it points back', async () => {
    await dovecot.exportLoginEventsTo(null);
    const seen = posts.length;
    expect((await imapLogin(dovecot.imapPort, ann.login, ann.password)).ok).toBe(true);
    expect((await pop3Login(dovecot.pop3Port, ann.login, 'wrong')).ok).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(posts.length).toBe(seen);
    const { port } = server.address() as AddressInfo;
    await dovecot.exportLoginEventsTo(`http://127.0.0.1:${port}/again?key=k`);
    await imapLogin(dovecot.imapPort, ann.login, ann.password);
    await pollUntil(() => posts.some((p) => p.url === '/again?key=k'), { description: 'posted again' });
  });
});
