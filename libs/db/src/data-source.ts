import 'reflect-metadata';
import type { Pool } from 'pg';
import { DataSource, DataSourceOptions } from 'typeorm';
import { MIGRATIONS } from '../../../migrations';
import { ENTITIES } from './entities';
import { assertRuntimeRole } from './runtime-role';

export interface DataSourceSettings {
  url: string;
  /** Pool size per process; the hot path holds one connection per batch in flight. */
  poolSize?: number;
  applicationName?: string;
  /** Log failed queries (on in the apps; tests that provoke errors turn it off). */
  logQueryErrors?: boolean;
  /**
   * PostgreSQL ends a session of ours that sits this long inside a transaction without sending anything (the
   * process was frozen, or cut from the database): its locks go with it, so nobody waits on it for longer.
   */
  idleInTransactionTimeoutMs?: number;
}

/**
 * The one DataSource definition shared by the apps, the migration command, the benchmarks and the tests
 * (style.md). Schema changes go through migrations only: `synchronize` is never on.
 */
export function dataSourceOptions(settings: DataSourceSettings): DataSourceOptions {
  return {
    type: 'postgres',
    url: settings.url,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTableName: 'schema_migrations',
    synchronize: false,
    migrationsRun: false,
    // The schema is the migrations' alone: TypeORM would otherwise try CREATE EXTENSION "uuid-ossp" on every start
    // (the uuid keys default to gen_random_uuid(), which needs no extension), which the runtime role may not do.
    installExtensions: false,
    logging: settings.logQueryErrors === false ? false : ['error'],
    poolSize: settings.poolSize ?? 10,
    applicationName: settings.applicationName ?? 'reopen',
    extra: {
      connectionTimeoutMillis: 5000,
      // A connection whose peer vanished (a network partition) is noticed after 10 s idle + the kernel's probes
      // (about 11 min with Linux defaults), not after the default 2 h idle.
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
      ...(settings.idleInTransactionTimeoutMs
        ? { options: `-c idle_in_transaction_session_timeout=${settings.idleInTransactionTimeoutMs}` }
        : {}),
    },
  };
}

export function createDataSource(settings: DataSourceSettings): DataSource {
  return new DataSource(dataSourceOptions(settings));
}

/**
 * Every new connection of `ds`'s pool keeps an 'error' listener for its whole life. pg-pool takes its own listener off
 * as it hands a connection out, and TypeORM's query runner puts one on only once the borrower runs: a FATAL parsed in
 * the same chunk as the ReadyForQuery that ended a new connection's start-up (its backend terminated right then: a
 * restart, pg_terminate_backend) is emitted in between, with no listener, which ends the process
 * (data-source.int-spec). Heard here, the connection is left not queryable: the statement that drew it fails and the
 * pool drops it. Call it once `ds` is initialized (connections made before were handed out and back already: only new
 * ones have the gap).
 */
export function hearEveryConnectionError(ds: DataSource): void {
  const pool = (ds.driver as unknown as { master?: Pool }).master;
  pool?.on('connect', (client) => client.on('error', () => undefined));
}

/**
 * The API's and the worker's DataSource: connected, and refused (closed, then a DatabaseRoleError naming what is
 * wrong) when its role could alter or bypass the audit log. No setting skips the check (docs/security.md).
 */
export async function openRuntimeDataSource(settings: DataSourceSettings): Promise<DataSource> {
  const ds = await createDataSource(settings).initialize();
  hearEveryConnectionError(ds);
  try {
    await assertRuntimeRole((text, params) => ds.query(text, params));
  } catch (err) {
    await ds.destroy();
    throw err;
  }
  return ds;
}
