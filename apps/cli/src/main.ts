import 'reflect-metadata';
import { checkConfig, loadConfigOrExit } from '@app/config';
import { runCommand } from './commands';
import { cliFailureLine } from './failure-line';

async function main(): Promise<void> {
  // check-config reports a bad environment itself, every problem at once; every other command needs a valid one.
  const config = process.argv[2] === 'check-config' ? checkConfig().config : loadConfigOrExit();
  try {
    process.exitCode = await runCommand(process.argv.slice(2), {
      databaseUrl: config.DATABASE_URL,
      ownerDatabaseUrl: config.OWNER_DATABASE_URL,
      incidentAt: new Date(config.INCIDENT_AT),
      out: (line) => process.stdout.write(`${line}\n`),
      err: (line) => process.stderr.write(`${line}\n`),
      // Set by the image's wrapper (deploy/reopen-admin), so help names the command that works there.
      program: process.env.REOPEN_CLI || undefined,
    });
  } catch (err) {
    process.stderr.write(`${cliFailureLine(err, config)}\n`);
    process.exitCode = 1;
  }
}

void main();
