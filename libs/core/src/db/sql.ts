import { DataSource, QueryRunner } from 'typeorm';

/**
 * Runs one statement and gives its rows. Over one connection (sqlOf: a pump's, or a transaction's, see withTransaction)
 * or over the pool (sqlOfDataSource).
 */
export type Sql = <T = Record<string, unknown>>(text: string, params?: unknown[]) => Promise<T[]>;

export function sqlOf(runner: QueryRunner): Sql {
  return async <T>(text: string, params: unknown[] = []) => {
    const result = (await runner.query(text, params, true)) as { records: T[] };
    return result.records;
  };
}

/** The same over a DataSource's pool (one statement per call, no session state). */
export function sqlOfDataSource(dataSource: DataSource): Sql {
  return <T>(text: string, params: unknown[] = []) => dataSource.query<T[]>(text, params);
}
