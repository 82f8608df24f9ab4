import { createPassdbDatabase, type PassdbDatabase, terminatingPgRelay } from '@app/testing';
import { DovecotSqlMailstore } from './dovecot-sql.mailstore';

describe('dovecot-sql on postgres: a connection the server ends as it is handed out', () => {
  let passdb: PassdbDatabase;
  let relay: Awaited<ReturnType<typeof terminatingPgRelay>>;
  let driver: DovecotSqlMailstore;
  const ann = { login: 'ann@example.test', password: 'ann-pw' };

  beforeAll(async () => {
    passdb = await createPassdbDatabase('postgres', 'columns');
    await passdb.addAccounts([ann]);
    relay = await terminatingPgRelay(passdb.url);
    driver = new DovecotSqlMailstore({
      url: relay.url,
      table: passdb.table,
      loginColumn: 'email',
      flags: { kind: 'columns', imap: 'imap_enabled', pop3: 'pop3_enabled' },
      versionColumn: 'access_version',
      timeoutMs: 3_000,
    });
  });

  afterAll(async () => {
    await driver?.close();
    await relay?.close();
    await passdb?.drop();
  });

  it('is that call’s retryable failure, never an unhandled error; the next call gets a new connection', async () => {
    // Before: the 'error' pg emitted for the FATAL had no listener (the pool had taken its own off, the driver had
    // not put its own on yet), which ends a worker process (wave-native-faults.int-spec's rollback under cuts). Jest
    // fails the test on such an 'error' ("Unhandled error", as it did before the fix).
    const first = await driver.getAccess(ann.login);
    expect(relay.terminated()).toBe(1);
    expect(first).toMatchObject({ kind: 'retryable', code: 'connection_reset' });
    expect(await driver.getAccess(ann.login)).toMatchObject({ kind: 'ok' });
    const write = await driver.batch(
      [{ account: ann.login, protocols: { imap: true } }],
      {},
      { idempotencyKey: 'pg-connection-ends-1' },
    );
    expect(write.kind).toBe('ok');
    expect(await passdb.flags(ann.login)).toMatchObject({ imap: true, pop3: false });
  });
});
