import { createTestDatabase, terminatingPgRelay, type TestDatabase } from '@app/testing';
import { openRuntimeDataSource } from './data-source';

describe('the service’s database connections: one the server ends as it is handed out', () => {
  let db: TestDatabase;
  let relay: Awaited<ReturnType<typeof terminatingPgRelay>>;

  beforeAll(async () => {
    db = await createTestDatabase('dsends');
    // The first connection is TypeORM's start-up check, kept idle in the pool: the second is a new one, handed out.
    relay = await terminatingPgRelay(db.url, 2);
  });

  afterAll(async () => {
    await relay?.close();
    await db?.drop();
  });

  it('fails the statement that drew it, never the process; the pool goes on with new connections', async () => {
    // Before: TypeORM's query runner puts its listener on only after the pool has handed the connection out (and
    // taken its own off), so pg's 'error' for that FATAL had none: an uncaught exception, which ends the API or the
    // worker (the same race as pg-connection-ends.int-spec, in the service's own pool). Jest fails the test on such
    // an 'error' ("Unhandled error", as it did before the fix).
    const ds = await openRuntimeDataSource({ url: relay.url, poolSize: 3, logQueryErrors: false });
    try {
      // Two statements at once: one takes the idle connection, the other a new one, which the relay terminates.
      const answers = await Promise.allSettled([ds.query('SELECT pg_sleep(0.2), 1 AS n'), ds.query('SELECT 2 AS n')]);
      expect(relay.terminated()).toBe(1);
      expect(answers.map((a) => a.status).sort()).toEqual(['fulfilled', 'rejected']);
      const refused = answers.find((a) => a.status === 'rejected');
      expect(String(refused?.reason)).toMatch(/connection|terminat/i);
      // The dead connection left the pool: what follows runs on live ones.
      for (let i = 0; i < 5; i++) expect(await ds.query('SELECT 3 AS n')).toEqual([{ n: 3 }]);
    } finally {
      await ds.destroy();
    }
  });
});
