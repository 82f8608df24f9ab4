import { PoolClient } from 'pg';
import { DataSource, EntityManager, QueryRunner } from 'typeorm';
import { Sql, sqlOf } from './sql';

/** What a transaction's work gets: its connection, three ways. Use none of them after the work returns. */
export interface Tx {
  /** Statements on the transaction's connection. */
  readonly sql: Sql;
  /** TypeORM's manager on the same connection, for entities (a find with a row lock, a save). */
  readonly manager: EntityManager;
  /** The connection's own pg client, for what only pg does (COPY FROM STDIN). Never BEGIN, COMMIT or ROLLBACK on it. */
  readonly client: PoolClient;
}

/**
 * The one way to run several statements as one transaction (after vendure's TransactionalConnection.withTransaction):
 * commits what `work` did when it returns, rolls it back when it throws (and rethrows).
 *
 * `on` is the pool (a DataSource: a connection is taken for the transaction and given back after it, whatever
 * happens) or a connection the caller holds (a QueryRunner, such as a pump's, which keeps its session state:
 * advisory locks, and several transactions one after the other); that one stays the caller's. A transaction begun
 * on a connection already inside one is a savepoint of it (TypeORM's nesting).
 *
 * The isolation level is the server's default (READ COMMITTED): every row lock the statements take, and its order,
 * is theirs to document.
 */
export async function withTransaction<T>(on: DataSource | QueryRunner, work: (tx: Tx) => Promise<T>): Promise<T> {
  const owned = isPool(on);
  const runner = owned ? on.createQueryRunner() : on;
  try {
    const client = (await runner.connect()) as PoolClient;
    await runner.startTransaction();
    try {
      const value = await work({ sql: sqlOf(runner), manager: runner.manager, client });
      await runner.commitTransaction();
      return value;
    } catch (err) {
      // The work's error is the one the caller needs; a failed rollback (a lost connection) adds nothing to it.
      if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
      throw err;
    }
  } finally {
    if (owned) await runner.release();
  }
}

function isPool(on: DataSource | QueryRunner): on is DataSource {
  return 'createQueryRunner' in on;
}
