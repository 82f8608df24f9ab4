import { startSimulator } from '@app/mailstore-sim';

/**
 * What the contract suite runs against:
 * - MAILSTORE_URL unset: an in-process simulator with production settings (rate limits, required
 *   batch keys), whose admin API the fault checks may use;
 * - MAILSTORE_URL set: another implementation, reached only through the contract with MAILSTORE_TOKEN,
 *   changing only the accounts in MAILSTORE_TEST_ACCOUNTS (comma-separated, at least 2).
 *   MAILSTORE_READONLY_TOKEN (a token with access:read only), when given, enables the 403 check.
 */
export interface ContractTarget {
  baseUrl: string;
  token: string;
  readOnlyToken: string | undefined;
  /** Accounts the suite may change (it restores them afterwards). */
  accounts: [string, string, ...string[]];
  /** Present only for the in-process simulator. */
  adminUrl: string | undefined;
  simulated: boolean;
  close(): Promise<void>;
}

const SIM_READER_TOKEN = 'contract-reader';

export async function contractTarget(env: NodeJS.ProcessEnv = process.env): Promise<ContractTarget> {
  const url = env.MAILSTORE_URL;
  if (url === undefined || url === '') {
    const sim = await startSimulator({
      port: 0,
      accounts: 10,
      tokens: {
        'contract-token': ['access:read', 'access:write', 'sessions:revoke'],
        [SIM_READER_TOKEN]: ['access:read'],
      },
    });
    return {
      baseUrl: sim.baseUrl,
      token: 'contract-token',
      readOnlyToken: SIM_READER_TOKEN,
      accounts: ['user1@example.test', 'user2@example.test', 'user3@example.test'],
      adminUrl: sim.adminUrl,
      simulated: true,
      close: () => sim.close(),
    };
  }
  const accounts = (env.MAILSTORE_TEST_ACCOUNTS ?? '')
    .split(',')
    .map((a) => a.trim())
    .filter((a) => a !== '');
  if (accounts.length < 2) {
    throw new Error(
      'MAILSTORE_URL is set, so the contract suite runs against that implementation: set MAILSTORE_TEST_ACCOUNTS ' +
        'to at least 2 comma-separated accounts it may change (they are restored afterwards), e.g. ' +
        'MAILSTORE_TEST_ACCOUNTS=contract-a@example.org,contract-b@example.org',
    );
  }
  if (!/^https?:\/\/\S+\/v1$/.test(url))
    throw new Error(`MAILSTORE_URL must be an http(s) URL ending in /v1, got ${url}`);
  return {
    baseUrl: url,
    token: env.MAILSTORE_TOKEN ?? 'sim-token',
    readOnlyToken: env.MAILSTORE_READONLY_TOKEN || undefined,
    accounts: accounts as [string, string, ...string[]],
    adminUrl: undefined,
    simulated: false,
    close: async () => {},
  };
}
