import { createServer, connect, type Server, type Socket } from 'node:net';
import {
  createPassdbDatabase,
  freeLoopbackPort,
  holdImapSession,
  startPrivateDovecot,
  type PassdbDatabase,
  type PassdbDialect,
  type PrivateDovecot,
} from '@app/testing';
import { DovecotSqlMailstore } from './dovecot-sql.mailstore';
import type { DovecotSqlOptions } from './dovecot-sql.options';

/** What the driver answers when a part of the Dovecot installation fails, and what it keeps from the operator's data. */
describe.each<PassdbDialect>(['postgres', 'mysql'])(
  'dovecot-sql on %s: failures and the operator’s data',
  (dialect) => {
    let passdb: PassdbDatabase;
    let dovecot: PrivateDovecot;
    const drivers: DovecotSqlMailstore[] = [];
    const ann = { login: 'ann@example.test', password: 'ann-pw' };
    let seq = 0;
    const key = (label: string) => `failures-${dialect}-${label}-${++seq}`;

    const driver = (extra: Partial<DovecotSqlOptions> = {}) => {
      const d = new DovecotSqlMailstore({
        url: passdb.url,
        table: passdb.table,
        loginColumn: 'email',
        flags: { kind: 'columns', imap: 'imap_enabled', pop3: 'pop3_enabled' },
        versionColumn: 'access_version',
        doveadm: { url: dovecot.doveadmUrl, apiKey: dovecot.doveadmApiKey },
        timeoutMs: 3_000,
        ...extra,
      });
      drivers.push(d);
      return d;
    };

    beforeAll(async () => {
      passdb = await createPassdbDatabase(dialect, 'columns');
      await passdb.addAccounts([ann]);
      dovecot = await startPrivateDovecot(passdb);
    });

    afterAll(async () => {
      await Promise.all(drivers.map((d) => d.close()));
      await dovecot?.stop();
      await passdb?.drop();
    });

    it('probe: up while the passdb and doveadm answer; else names the part that does not, never its key', async () => {
      expect(await driver().probe()).toEqual({ up: true });
      const dead = await freeLoopbackPort();
      const elsewhere = new URL(passdb.url);
      elsewhere.port = String(dead);
      for (const d of [driver({ table: 'no_such_passdb' }), driver({ url: elsewhere.toString() })])
        expect(await d.probe()).toMatchObject({ up: false, part: 'passdb', reason: expect.any(String) });
      const keys = [
        driver({ doveadm: { url: `http://127.0.0.1:${dead}/doveadm/v1`, apiKey: dovecot.doveadmApiKey } }),
        driver({ doveadm: { url: dovecot.doveadmUrl, apiKey: 'not-the-key' } }),
      ];
      for (const d of keys) {
        const probe = await d.probe();
        expect(probe).toMatchObject({ up: false, part: 'doveadm' });
        expect(JSON.stringify(probe)).not.toContain(dovecot.doveadmApiKey);
        expect(JSON.stringify(probe)).not.toContain('not-the-key');
      }
      // Without doveadm configured, the passdb alone is asked.
      expect(await driver({ doveadm: undefined }).probe()).toEqual({ up: true });
    });

    it('owes a kick that failed after the commit to the retry under the same key, which the engine marks in doubt', async () => {
      // doveadm is first down (nothing listens on its port), then back (a relay to the real one on that port).
      const port = await freeLoopbackPort();
      const d = driver({ doveadm: { url: `http://127.0.0.1:${port}/doveadm/v1`, apiKey: dovecot.doveadmApiKey } });
      expect(
        (await d.batch([{ account: ann.login, protocols: { imap: true } }], {}, { idempotencyKey: key('on') })).kind,
      ).toBe('ok');
      const session = await holdImapSession(dovecot.imapPort, ann.login, ann.password);
      let relay: Server | undefined;
      try {
        const k = key('off');
        const first = await d.batch(
          [{ account: ann.login, protocols: { imap: false } }],
          { revokeSessions: true },
          { idempotencyKey: k },
        );
        expect(first).toMatchObject({ kind: 'retryable', code: 'upstream_error', outcomeUnknown: true });
        expect(JSON.stringify(first)).not.toContain(dovecot.doveadmApiKey);
        // The write itself is committed: the next login is refused already.
        expect(await passdb.flags(ann.login)).toMatchObject({ imap: false });
        relay = await startRelay(port, Number(new URL(dovecot.doveadmUrl).port));
        const retry = await d.batch(
          [{ account: ann.login, protocols: { imap: false } }],
          { revokeSessions: true },
          { idempotencyKey: k, inDoubt: true },
        );
        expect(retry).toMatchObject({
          kind: 'ok',
          value: { results: [{ status: 'unchanged', sessions: 'revoked' }] },
        });
        const closed = await Promise.race([session.closed.then(() => true), delay(2_000).then(() => false)]);
        expect(closed).toBe(true);
      } finally {
        session.close();
        await new Promise<void>((resolve) => (relay ? relay.close(() => resolve()) : resolve()));
      }
    });

    it('answers wrong database credentials with permanent 401, and a missing table with 403 schema_mismatch, no secret in either', async () => {
      const url = new URL(passdb.url);
      url.username = 'reopen_nobody';
      url.password = 'pw-never-shown';
      const unauthorized = driver({ url: url.toString() });
      const read = await unauthorized.getAccess(ann.login);
      if (dialect === 'mysql') {
        expect(read).toMatchObject({ kind: 'permanent', status: 401, code: 'unauthorized' });
      } else {
        // The tests' PostgreSQL trusts loopback connections: the unknown role is refused as such (28000), also a 401.
        expect(read).toMatchObject({ kind: 'permanent', status: 401 });
      }
      expect(JSON.stringify(read)).not.toContain('pw-never-shown');

      const wrongTable = driver({ table: 'no_such_table' });
      const write = await wrongTable.batch(
        [{ account: ann.login, protocols: { pop3: true } }],
        {},
        { idempotencyKey: key('table') },
      );
      expect(write).toMatchObject({ kind: 'permanent', status: 403, code: 'schema_mismatch' });
      expect(await passdb.flags(ann.login)).toMatchObject({ pop3: false });
    });

    it('keeps the other names of a protocols list, and reads a NULL switch as closed', async () => {
      const list = await createPassdbDatabase(dialect, 'list');
      try {
        await list.addAccounts([
          { login: 'lee@example.test', password: 'x' },
          { login: 'nul@example.test', password: 'x' },
        ]);
        await list.exec("UPDATE mail_users SET allowed_protocols = 'SMTP sieve' WHERE email = ?", ['lee@example.test']);
        const d = driver({ url: list.url, flags: { kind: 'list', column: 'allowed_protocols' }, doveadm: undefined });
        const out = await d.batch(
          [
            { account: 'lee@example.test', protocols: { imap: true } },
            { account: 'nul@example.test', protocols: { pop3: false } },
          ],
          {},
          { idempotencyKey: key('list') },
        );
        expect(out).toMatchObject({
          kind: 'ok',
          value: {
            results: [
              { status: 'applied', previous: { imap: false, pop3: false }, protocols: { imap: true, pop3: false } },
              { status: 'unchanged', protocols: { imap: false, pop3: false } },
            ],
          },
        });
        expect(await d.getAccess('lee@example.test')).toMatchObject({
          kind: 'ok',
          value: { protocols: { imap: true, pop3: false } },
        });
        const [row] = await list.query('SELECT allowed_protocols FROM mail_users WHERE email = ?', [
          'lee@example.test',
        ]);
        expect(row.allowed_protocols).toBe('SMTP,sieve,imap');
      } finally {
        await list.drop();
      }
    });
  },
);

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** A TCP relay from `port` to `target` on the loopback: doveadm "coming back" on the address the driver knows. */
async function startRelay(port: number, target: number): Promise<Server> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(target, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => sockets.delete(s));
    }
    client.pipe(upstream).pipe(client);
  });
  const close = server.close.bind(server);
  server.close = (cb?: (err?: Error) => void) => {
    for (const s of sockets) s.destroy();
    return close(cb);
  };
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return server;
}
