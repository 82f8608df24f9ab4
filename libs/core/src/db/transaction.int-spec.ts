import { createTestDatabase, TestDatabase } from '@app/testing';
import { sqlOf, sqlOfDataSource } from './sql';
import { withTransaction } from './transaction';

describe('withTransaction (real PostgreSQL)', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase('transaction');
  });
  afterAll(async () => {
    await db?.drop();
  });

  const written = async (action: string) =>
    Number(
      (await db.dataSource.query<{ n: string }[]>(`SELECT count(*) AS n FROM audit_log WHERE action = $1`, [action]))[0]
        .n,
    );
  /** Sessions of this database left inside a transaction (a connection given back unfinished). */
  const idleInTransaction = async () =>
    Number(
      (
        await db.owner.query<{ n: string }[]>(
          `SELECT count(*) AS n FROM pg_stat_activity
            WHERE datname = current_database() AND state LIKE 'idle in transaction%'`,
        )
      )[0].n,
    );

  it('commits what the work wrote when it returns, and gives its value', async () => {
    const value = await withTransaction(db.dataSource, async ({ sql }) => {
      await sql(`INSERT INTO audit_log (actor, action) VALUES ('test', 'tx.committed')`);
      return 42;
    });
    expect(value).toBe(42);
    expect(await written('tx.committed')).toBe(1);
  });

  it('rolls everything back when the work throws, rethrows its error and gives the connection back', async () => {
    const boom = new Error('boom');
    // More failing transactions than the pool has connections (5): one kept would make the next ones wait forever.
    for (let i = 0; i < 7; i++) {
      await expect(
        withTransaction(db.dataSource, async ({ sql, manager }) => {
          await sql(`INSERT INTO audit_log (actor, action) VALUES ('test', 'tx.rolled_back')`);
          await manager.query(`INSERT INTO audit_log (actor, action) VALUES ('test', 'tx.rolled_back')`);
          throw boom;
        }),
      ).rejects.toBe(boom);
    }
    expect(await written('tx.rolled_back')).toBe(0);
    expect(await idleInTransaction()).toBe(0);
  });

  it('rolls back a statement error too, and the pool serves the next transaction', async () => {
    await expect(
      withTransaction(db.dataSource, async ({ sql }) => {
        await sql(`INSERT INTO audit_log (actor, action) VALUES ('test', 'tx.failed_statement')`);
        await sql(`INSERT INTO audit_log (actor, action) VALUES (NULL, 'tx.failed_statement')`);
      }),
    ).rejects.toThrow(/null value/);
    expect(await written('tx.failed_statement')).toBe(0);
    await withTransaction(db.dataSource, ({ sql }) => sql(`SELECT 1`));
    expect(await idleInTransaction()).toBe(0);
  });

  it("runs on a caller's connection without releasing it: its session state (an advisory lock) outlives each transaction", async () => {
    const runner = db.dataSource.createQueryRunner();
    await runner.connect();
    try {
      const sql = sqlOf(runner);
      const [{ pid }] = await sql<{ pid: number }>(`SELECT pg_backend_pid() AS pid`);
      await sql(`SELECT pg_advisory_lock(4242)`);
      await withTransaction(runner, async (tx) => {
        const [row] = await tx.sql<{ pid: number }>(`SELECT pg_backend_pid() AS pid`);
        expect(row.pid).toBe(pid);
        await tx.sql(`INSERT INTO audit_log (actor, action) VALUES ('test', 'tx.on_runner')`);
      });
      await expect(
        withTransaction(runner, async (tx) => {
          await tx.sql(`INSERT INTO audit_log (actor, action) VALUES ('test', 'tx.on_runner_failed')`);
          throw new Error('second transaction fails');
        }),
      ).rejects.toThrow('second transaction fails');
      // Still connected, outside any transaction, still holding the session's lock.
      expect(runner.isReleased).toBe(false);
      expect(runner.isTransactionActive).toBe(false);
      const [lock] = await sqlOfDataSource(db.dataSource)<{ n: string }>(
        `SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242 AND pid = $1 AND granted`,
        [pid],
      );
      expect(Number(lock.n)).toBe(1);
      await sql(`SELECT pg_advisory_unlock(4242)`);
    } finally {
      await runner.release();
    }
    expect(await written('tx.on_runner')).toBe(1);
    expect(await written('tx.on_runner_failed')).toBe(0);
  });

  it('nests as a savepoint: an inner failure caught by the outer work undoes the inner writes only', async () => {
    const runner = db.dataSource.createQueryRunner();
    try {
      await withTransaction(runner, async (outer) => {
        await outer.sql(`INSERT INTO audit_log (actor, action) VALUES ('test', 'tx.outer')`);
        await withTransaction(runner, async (inner) => {
          await inner.sql(`INSERT INTO audit_log (actor, action) VALUES ('test', 'tx.inner')`);
          throw new Error('inner');
        }).catch(() => undefined);
      });
    } finally {
      await runner.release();
    }
    expect(await written('tx.outer')).toBe(1);
    expect(await written('tx.inner')).toBe(0);
  });
});
