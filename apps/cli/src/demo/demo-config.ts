import { loadConfigOrExit } from '@app/config';

/** What the story needs from its environment (scripts/demo.js sets it; tests override it). */
export interface DemoConfig {
  /** Population size (DEMO_ACCOUNTS, default 200,000). */
  accounts: number;
  apiOrigin: string;
  /** The simulator's own admin surface (/_sim), to check it knows the population. */
  simAdminUrl: string;
  /** The owner's URL (OWNER_DATABASE_URL): the API keys are made as `create-api-key` makes them, as the owner. */
  ownerDatabaseUrl: string;
  incidentAt: Date;
  /** Give up (exit 1) when the waves are not done after this long (DEMO_TIMEOUT_S, default 240). */
  timeoutMs: number;
  /** Also write the summary as JSON here (DEMO_SUMMARY_FILE), for CI. */
  summaryFile: string | null;
  /**
   * `--mailstore=dovecot` (scripts/demo.js sets DEMO_IMAP_PORT and DEMO_POP3_PORT): a real Dovecot driven by the
   * dovecot-sql driver, whose logins end the story; null: the simulator.
   */
  dovecot: { imapPort: number; pop3Port: number } | null;
}

const DEFAULT_DEMO_ACCOUNTS = 200_000;

function positiveInt(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    process.stderr.write(`demo: ${name} must be an integer between ${min} and ${max} (got "${raw}")\n`);
    process.exit(2);
  }
  return n;
}

export function loadDemoConfig(env: NodeJS.ProcessEnv = process.env): DemoConfig {
  const config = loadConfigOrExit(env);
  return {
    // At least 1,000: below that the ramp steps of the first wave are a handful of accounts.
    accounts: positiveInt(env, 'DEMO_ACCOUNTS', DEFAULT_DEMO_ACCOUNTS, 1000, 2_000_000),
    apiOrigin: `http://127.0.0.1:${config.PORT}`,
    simAdminUrl: `http://127.0.0.1:${config.SIM_PORT}/_sim`,
    ownerDatabaseUrl: config.OWNER_DATABASE_URL,
    incidentAt: new Date(config.INCIDENT_AT),
    timeoutMs: positiveInt(env, 'DEMO_TIMEOUT_S', 240, 10, 3600) * 1000,
    summaryFile: env.DEMO_SUMMARY_FILE || null,
    dovecot: env.DEMO_IMAP_PORT
      ? {
          imapPort: positiveInt(env, 'DEMO_IMAP_PORT', 0, 1, 65535),
          pop3Port: positiveInt(env, 'DEMO_POP3_PORT', 0, 1, 65535),
        }
      : null,
  };
}
