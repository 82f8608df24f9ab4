import { createReadStream } from 'node:fs';
import { access } from 'node:fs/promises';
import { DataSource } from 'typeorm';
import {
  ApiKeyService,
  API_ROLES,
  AccountImportService,
  checkEnvironment,
  IMPORT_READ_CHUNK_BYTES,
  ImportFileError,
  LineTooLongError,
  ImportReport,
  ListedApiKey,
} from '@app/core';
import { createDataSource, migrate } from '@app/db';
import { ApiRole } from '@app/db';
import { parseCommandLine } from './args';

export interface CliContext {
  /** The runtime role's URL (DATABASE_URL): imports run as the API runs them. */
  databaseUrl: string;
  /** The owner's URL (OWNER_DATABASE_URL): migrations and API-key administration, which the runtime role may not do. */
  ownerDatabaseUrl: string;
  /** INCIDENT_AT: which imported accounts are held back (the import report's `openHeld`). */
  incidentAt: Date;
  out: (line: string) => void;
  err: (line: string) => void;
  /** How help and usage errors name the CLI (default `npm run cli --`; `reopen-admin` in the image). */
  program?: string;
  /** The environment check-config reads (default: the process's). */
  env?: NodeJS.ProcessEnv;
}

async function withDataSource<T>(url: string, fn: (ds: DataSource) => Promise<T>): Promise<T> {
  const ds = createDataSource({ url, poolSize: 2, applicationName: 'reopen-cli' });
  await ds.initialize();
  try {
    return await fn(ds);
  } finally {
    await ds.destroy();
  }
}

/** Runs one command line; returns the process exit code (0 ok, 1 failure, 2 bad usage or rejected input). */
export async function runCommand(argv: string[], ctx: CliContext): Promise<number> {
  const line = parseCommandLine(argv, ctx.program);
  if (line.kind === 'help') {
    ctx.out(line.text);
    return 0;
  }
  if (line.kind === 'usage_error') {
    ctx.err(line.message);
    return 2;
  }
  const { command, positionals: rest } = line;
  const args = { options: line.options };
  switch (command) {
    case 'migrate': {
      const report = await migrate(ctx.ownerDatabaseUrl, ctx.databaseUrl);
      if (report.createdDatabase) ctx.out(`created database ${new URL(ctx.ownerDatabaseUrl).pathname.slice(1)}`);
      ctx.out(report.applied.length ? `applied: ${report.applied.join(', ')}` : 'schema is up to date');
      const role = report.runtimeRole;
      const done = role.created ? 'created' : role.updated ? 'updated' : 'checked';
      ctx.out(`runtime role ${role.name}: ${done}, grants applied (it cannot alter or bypass the audit log)`);
      return 0;
    }
    case 'import-accounts':
      return importAccounts(rest[0], args, ctx);
    case 'create-api-key': {
      const role = args.options.role;
      const name = args.options.name;
      if (typeof role !== 'string' || !API_ROLES.includes(role as ApiRole) || typeof name !== 'string') {
        ctx.err(`create-api-key needs --role (${API_ROLES.join(', ')}) and --name`);
        return 2;
      }
      const key = await withDataSource(ctx.ownerDatabaseUrl, (ds) =>
        new ApiKeyService(ds).create(role as ApiRole, name),
      );
      ctx.out(`created ${key.role} key "${key.name}" (id ${key.id}). Secret, shown only now:`);
      ctx.out(key.secret);
      return 0;
    }
    case 'list-api-keys': {
      const keys = await withDataSource(ctx.ownerDatabaseUrl, (ds) => new ApiKeyService(ds).list());
      if (args.options.json === true) ctx.out(JSON.stringify(keys));
      else printKeys(keys, ctx);
      return 0;
    }
    case 'check-config':
      return checkConfigCommand(args, ctx);
    case 'revoke-api-key': {
      const revoked = await withDataSource(ctx.ownerDatabaseUrl, (ds) => new ApiKeyService(ds).revoke(rest[0], 'cli'));
      ctx.out(revoked ? `revoked ${rest[0]}` : `no active key ${rest[0]}`);
      return revoked ? 0 : 1;
    }
  }
}

async function checkConfigCommand(
  args: { options: Record<string, string | boolean> },
  ctx: CliContext,
): Promise<number> {
  const check = await checkEnvironment(ctx.env ?? process.env, { probe: args.options.probe === true });
  const failed = check.problems.length > 0 || check.probe?.up === false;
  if (args.options.json === true) {
    ctx.out(JSON.stringify({ ok: !failed, ...check }));
    return failed ? 1 : 0;
  }
  if (check.problems.length > 0) {
    ctx.err(`the API and the worker would refuse to start (MAILSTORE_DRIVER=${check.driver}):`);
    for (const p of check.problems) ctx.err(`  - ${p}`);
    return 1;
  }
  ctx.out(`configuration ok (MAILSTORE_DRIVER=${check.driver})`);
  if (check.probe?.up === true) ctx.out('mailstore: up');
  if (check.probe?.up === false) {
    ctx.err(`mailstore: down (${check.probe.part}: ${check.probe.reason})`);
    return 1;
  }
  return 0;
}

function printKeys(keys: ListedApiKey[], ctx: CliContext): void {
  if (!keys.length) {
    ctx.out('no API keys (create one with create-api-key)');
    return;
  }
  const when = (d: Date | null) => (d ? d.toISOString().slice(0, 16).replace('T', ' ') : '');
  const rows = [
    ['ID', 'ROLE', 'NAME', 'PREFIX', 'CREATED (UTC)', 'LAST USED (UTC)', 'REVOKED (UTC)'],
    ...keys.map((k) => [
      k.id,
      k.role,
      k.name,
      k.prefix,
      when(k.createdAt),
      k.lastUsedAt ? when(k.lastUsedAt) : 'never',
      when(k.revokedAt),
    ]),
  ];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  for (const r of rows)
    ctx.out(
      r
        .map((cell, i) => cell.padEnd(widths[i]))
        .join('  ')
        .trimEnd(),
    );
}

async function importAccounts(
  file: string,
  args: { options: Record<string, string | boolean> },
  ctx: CliContext,
): Promise<number> {
  try {
    await access(file);
  } catch {
    ctx.err(`cannot read ${file}`);
    return 2;
  }
  const partial = args.options.partial === true;
  try {
    const report = await withDataSource(ctx.databaseUrl, (ds) =>
      new AccountImportService(ds, ctx.incidentAt).importCsv(
        createReadStream(file, { highWaterMark: IMPORT_READ_CHUNK_BYTES }),
        {
          partial,
          actor: `cli:${process.env.USER ?? 'unknown'}`,
        },
      ),
    );
    if (args.options.json === true) ctx.out(JSON.stringify(report));
    else printImportReport(report, ctx);
    return report.status === 'imported' ? 0 : 2;
  } catch (err) {
    if (err instanceof ImportFileError || err instanceof LineTooLongError) {
      ctx.err(`import refused, nothing imported: ${err.message}`);
      return 2;
    }
    throw err;
  }
}

function printImportReport(r: ImportReport, ctx: CliContext): void {
  const verdict =
    r.status === 'imported'
      ? `imported: ${r.inserted} new, ${r.updated} updated, ${r.unchanged} unchanged`
      : 'rejected: nothing imported (fix the lines below, or use --partial to import the good lines)';
  ctx.out(
    `${r.lines} data lines, ${r.valid} valid, ${r.rejected} bad, in ${(r.durationMs / 1000).toFixed(1)} s; ${verdict}`,
  );
  if (r.openHeld > 0) {
    ctx.out(
      `WARNING ${r.openHeld} accounts recorded open are now held back (password_reset_required): close them ` +
        `(support disable, or the wave's rollback)`,
    );
    for (const login of r.openHeldLogins.slice(0, 50)) ctx.out(`  ${login}`);
    if (r.openHeld > 50) ctx.out(`  … and ${r.openHeld - 50} more (--json lists ${r.openHeldLogins.length})`);
  }
  for (const e of r.errors.slice(0, 50)) ctx.out(`  line ${e.line}${e.field ? ` (${e.field})` : ''}: ${e.reason}`);
  if (r.rejected > Math.min(50, r.errors.length))
    ctx.out(`  … and ${r.rejected - Math.min(50, r.errors.length)} more bad lines`);
}
