import { Client } from 'pg';
import { migrate, MigrationReport, quoteIdent, withDatabase, withUser } from '@app/db';

/** Benchmarks run against the local PostgreSQL unless BENCH_DATABASE_URL names another server. */
export const BENCH_SERVER_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://root@127.0.0.1:5432/postgres';

export function benchDatabaseUrl(label: string): string {
  return withDatabase(BENCH_SERVER_URL, `reopen_bench_${label}_${Date.now().toString(36)}`);
}

/**
 * The worker and API processes of a benchmark connect as this runtime role, as deployed (docs/security.md): they
 * refuse to start as the owner. The benchmark's own in-process services keep the owner's URL.
 */
const BENCH_RUNTIME_ROLE = 'reopen_bench_app';

export function benchRuntimeUrl(ownerUrl: string): string {
  return withUser(ownerUrl, BENCH_RUNTIME_ROLE);
}

/** Migrates a bench database as its owner and sets up the runtime role in it. */
export function migrateBench(ownerUrl: string): Promise<MigrationReport> {
  return migrate(ownerUrl, benchRuntimeUrl(ownerUrl));
}

export async function dropDatabase(url: string): Promise<void> {
  const name = new URL(url).pathname.slice(1);
  const admin = new Client({ connectionString: BENCH_SERVER_URL });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

/** Prints the machine conditions a figure depends on (stderr), so docs/benchmarks.md can quote them. */
export async function conditions(): Promise<Record<string, string | number>> {
  const os = await import('node:os');
  const admin = new Client({ connectionString: BENCH_SERVER_URL });
  await admin.connect();
  const pg = (await admin.query<{ server_version: string }>('SHOW server_version')).rows[0].server_version;
  await admin.end();
  return { node: process.version, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? '?', postgres: pg };
}

export function log(line: string): void {
  process.stderr.write(`${line}\n`);
}
