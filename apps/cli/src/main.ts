import 'reflect-metadata';
import { isOperatorFix, loadConfigOrExit } from '@app/config';
import { runCommand } from './commands';

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const code = await runCommand(process.argv.slice(2), {
    databaseUrl: config.DATABASE_URL,
    ownerDatabaseUrl: config.OWNER_DATABASE_URL,
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
  });
  process.exitCode = code;
}

main().catch((err: unknown) => {
  const e = err as { code?: string; message?: string; address?: string; port?: number };
  if (isOperatorFix(err)) {
    process.stderr.write(`${err.message}\n`);
  } else if (e.code === 'ECONNREFUSED') {
    process.stderr.write(
      `cannot reach PostgreSQL at ${e.address ?? '?'}:${e.port ?? '?'} (DATABASE_URL, OWNER_DATABASE_URL). Start it, e.g. ` +
        `"docker compose up -d postgres" or "pg_ctlcluster 15 main start".\n`,
    );
  } else {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  }
  process.exitCode = 1;
});
