import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_SIM_PORT, SimEnvError, simOptionsFromEnv } from './sim-env';

function problemsOf(env: NodeJS.ProcessEnv): string[] {
  try {
    simOptionsFromEnv(env);
  } catch (err) {
    if (err instanceof SimEnvError) return err.problems;
    throw err;
  }
  return [];
}

describe('simOptionsFromEnv', () => {
  it('gives working defaults', () => {
    expect(simOptionsFromEnv({})).toEqual({
      port: DEFAULT_SIM_PORT,
      tokens: { 'sim-token': ['access:read', 'access:write', 'sessions:revoke'] },
    });
  });

  it('reads every variable it knows', () => {
    const options = simOptionsFromEnv({
      SIM_PORT: '0',
      SIM_HOST: '0.0.0.0',
      SIM_ACCOUNTS: '1000000',
      SIM_TOKEN: '{"reader":["access:read"]}',
      SIM_RATE_LIMITS: '{"requestsPerSecond":5}',
      SIM_FAULTS: '{"rate503":0.1,"seed":3}',
      SIM_PROPAGATION: '{"mode":"eventual","maxSeconds":300}',
    });
    expect(options).toMatchObject({
      port: 0,
      host: '0.0.0.0',
      accounts: 1_000_000,
      tokens: { reader: ['access:read'] },
      rateLimits: { requestsPerSecond: 5, requestBurst: 40 },
      faults: { rate503: 0.1, seed: 3 },
      propagation: { mode: 'eventual', maxSeconds: 300 },
    });
  });

  it('takes a plain SIM_TOKEN as a token with every scope, and none as no limits', () => {
    const options = simOptionsFromEnv({ SIM_TOKEN: 'secret', SIM_RATE_LIMITS: 'none' });
    expect(options.tokens).toEqual({ secret: ['access:read', 'access:write', 'sessions:revoke'] });
    expect(options.rateLimits).toBe('none');
  });

  it('accepts an existing CSV file', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'sim-env-')), 'a.csv');
    writeFileSync(path, 'login\na@x.test\n');
    expect(simOptionsFromEnv({ SIM_ACCOUNTS_CSV: path }).accountsCsv).toBe(path);
  });

  it('names every bad variable in one error', () => {
    const problems = problemsOf({
      SIM_PORT: '70000',
      SIM_HOST: 'bad host',
      SIM_ACCOUNTS: '-3',
      SIM_TOKEN: '{"t":["root"]}',
      SIM_RATE_LIMITS: '{"requestsPerSecond":0}',
      SIM_FAULTS: '{"rate503":2}',
      SIM_PROPAGATION: '{"mode":"sometimes"}',
    });
    for (const name of [
      'SIM_PORT',
      'SIM_HOST',
      'SIM_ACCOUNTS',
      'SIM_TOKEN',
      'SIM_RATE_LIMITS',
      'SIM_FAULTS',
      'SIM_PROPAGATION',
    ]) {
      expect(problems.some((p) => p.startsWith(`${name}:`))).toBe(true);
    }
  });

  it('refuses malformed JSON and a missing CSV file, naming the variable', () => {
    expect(problemsOf({ SIM_FAULTS: '{rate503' })).toEqual([expect.stringMatching(/^SIM_FAULTS: /)]);
    expect(problemsOf({ SIM_ACCOUNTS_CSV: '/nonexistent/a.csv' })).toEqual([
      expect.stringMatching(/^SIM_ACCOUNTS_CSV: no such file/),
    ]);
  });

  it('refuses SIM_ACCOUNTS and SIM_ACCOUNTS_CSV together', () => {
    expect(problemsOf({ SIM_ACCOUNTS: '5', SIM_ACCOUNTS_CSV: '/etc/hostname' })).toEqual([
      expect.stringMatching(/^SIM_ACCOUNTS_CSV: set SIM_ACCOUNTS or SIM_ACCOUNTS_CSV, not both/),
    ]);
  });
});
