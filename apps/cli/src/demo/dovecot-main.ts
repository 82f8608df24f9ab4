import { DEMO_MAIL_PASSWORD, startDemoDovecot } from './demo-dovecot';

/**
 * Run by scripts/demo.js for `--mailstore=dovecot` (before the worker, which needs its settings): starts the demo's
 * Dovecot (demo-dovecot.ts), prints one JSON line `{"env", "imapPort", "pop3Port", "password"}` and keeps it running until
 * SIGTERM or SIGINT, when it stops Dovecot and exits. OWNER_DATABASE_URL names the demo's database; DEMO_ACCOUNTS
 * the number of mailboxes.
 */
async function main(): Promise<void> {
  const owner = process.env.OWNER_DATABASE_URL;
  const accounts = Number(process.env.DEMO_ACCOUNTS ?? '200000');
  if (!owner) throw new Error('OWNER_DATABASE_URL is required');
  const dovecot = await startDemoDovecot(owner, accounts);
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    dovecot.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.stdout.write(
    `${JSON.stringify({ env: dovecot.env, imapPort: dovecot.imapPort, pop3Port: dovecot.pop3Port, password: DEMO_MAIL_PASSWORD })}\n`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`demo dovecot: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
