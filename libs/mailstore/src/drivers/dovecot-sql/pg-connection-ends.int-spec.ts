import { connect, createServer, type Server } from 'node:net';
import { createPassdbDatabase, freeLoopbackPort, type PassdbDatabase } from '@app/testing';
import { DovecotSqlMailstore } from './dovecot-sql.mailstore';

/** A PostgreSQL ErrorResponse: what a backend sends when pg_terminate_backend ends it. */
function fatalTerminated(): Buffer {
  const field = (tag: string, value: string) => Buffer.concat([Buffer.from(tag), Buffer.from(`${value}\0`)]);
  const body = Buffer.concat([
    field('S', 'FATAL'),
    field('V', 'FATAL'),
    field('C', '57P01'),
    field('M', 'terminating connection due to administrator command'),
    Buffer.from([0]),
  ]);
  const head = Buffer.alloc(5);
  head.write('E', 0);
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

/**
 * A relay to PostgreSQL whose first connection ends as a backend terminated right after its start-up does: the
 * ReadyForQuery that ends the start-up and the FATAL arrive in one chunk, so pg parses both in one go, handing the
 * connection out and then finding it dead before the borrower has run a line. Later connections pass untouched.
 */
async function terminatingRelay(target: URL): Promise<{ server: Server; port: number; terminated: () => number }> {
  let terminated = 0;
  const server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    client.on('error', () => undefined);
    upstream.on('error', () => undefined);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.pipe(upstream);
    if (terminated > 0) {
      upstream.pipe(client);
      return;
    }
    terminated++;
    let pending = Buffer.alloc(0);
    upstream.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      // Walk whole messages (type byte, int32 length); at the first ReadyForQuery, send up to it plus the FATAL.
      for (let at = 0; at + 5 <= pending.length;) {
        const end = at + 1 + pending.readInt32BE(at + 1);
        if (end > pending.length) break;
        if (String.fromCharCode(pending[at]) === 'Z') {
          client.end(Buffer.concat([pending.subarray(0, end), fatalTerminated()]));
          upstream.destroy();
          return;
        }
        at = end;
      }
      // Before the first message the server may answer the SSL request with one byte ('N'): pass it on alone.
      if (pending.length === 1 && pending[0] === 'N'.charCodeAt(0)) {
        client.write(pending);
        pending = Buffer.alloc(0);
      }
    });
  });
  const port = await freeLoopbackPort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { server, port, terminated: () => terminated };
}

describe('dovecot-sql on postgres: a connection the server ends as it is handed out', () => {
  let passdb: PassdbDatabase;
  let relay: Awaited<ReturnType<typeof terminatingRelay>>;
  let driver: DovecotSqlMailstore;
  const ann = { login: 'ann@example.test', password: 'ann-pw' };

  beforeAll(async () => {
    passdb = await createPassdbDatabase('postgres', 'columns');
    await passdb.addAccounts([ann]);
    relay = await terminatingRelay(new URL(passdb.url));
    const url = new URL(passdb.url);
    url.host = `127.0.0.1:${relay.port}`;
    driver = new DovecotSqlMailstore({
      url: url.toString(),
      table: passdb.table,
      loginColumn: 'email',
      flags: { kind: 'columns', imap: 'imap_enabled', pop3: 'pop3_enabled' },
      versionColumn: 'access_version',
      timeoutMs: 3_000,
    });
  });

  afterAll(async () => {
    await driver?.close();
    await new Promise((resolve) => relay?.server.close(resolve));
    await passdb?.drop();
  });

  it('is that call’s retryable failure, never an unhandled error; the next call gets a new connection', async () => {
    // Before: the 'error' pg emitted for the FATAL had no listener (the pool had taken its own off, the driver had
    // not put its own on yet), which ends a worker process (wave-native-faults.int-spec's rollback under cuts).
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown) => uncaught.push(err);
    process.on('uncaughtException', onUncaught);
    try {
      const first = await driver.getAccess(ann.login);
      expect(relay.terminated()).toBe(1);
      expect(first).toMatchObject({ kind: 'retryable', code: 'connection_reset' });
      expect(uncaught).toEqual([]);
      expect(await driver.getAccess(ann.login)).toMatchObject({ kind: 'ok' });
      const write = await driver.batch(
        [{ account: ann.login, protocols: { imap: true } }],
        {},
        { idempotencyKey: 'pg-connection-ends-1' },
      );
      expect(write.kind).toBe('ok');
      expect(await passdb.flags(ann.login)).toMatchObject({ imap: true, pop3: false });
    } finally {
      process.off('uncaughtException', onUncaught);
    }
  });
});
