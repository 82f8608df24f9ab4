import { existsSync } from 'node:fs';
import { validateFaultConfig } from './fault-config';
import { validateRateLimits } from './rate-limiter';
import { DEFAULT_TOKEN, tokensFrom, validatePropagation } from './sim-state';
import { SCOPES, type SimulatorOptions } from './sim.types';

/** Port of `npm run start:sim` unless SIM_PORT says otherwise (the service's MAILSTORE_URL default). */
export const DEFAULT_SIM_PORT = 8025;

export class SimEnvError extends Error {
  override name = 'SimEnvError';
  constructor(readonly problems: string[]) {
    super(`Invalid simulator configuration:\n  - ${problems.join('\n  - ')}`);
  }
}

/**
 * SimulatorOptions from the environment, checked once at boot; every bad variable is named in one error
 * (fail at boot, not in the middle of a test run).
 *
 * SIM_PORT (8025), SIM_HOST (127.0.0.1), SIM_ACCOUNTS (count) or SIM_ACCOUNTS_CSV (path), SIM_TOKEN
 * (a token with every scope, or a JSON object token -> scopes), SIM_RATE_LIMITS (`none` or JSON),
 * SIM_FAULTS (JSON FaultConfig), SIM_PROPAGATION (JSON {"mode","maxSeconds"}).
 */
export function simOptionsFromEnv(env: NodeJS.ProcessEnv): SimulatorOptions {
  const problems: string[] = [];
  const options: SimulatorOptions = {};
  const get = (name: string): string | undefined => (env[name] === '' ? undefined : env[name]);
  const check = (name: string, fn: (value: string) => void): void => {
    const value = get(name);
    if (value === undefined) return;
    try {
      fn(value);
    } catch (err) {
      problems.push(`${name}: ${(err as Error).message}`);
    }
  };

  options.port = DEFAULT_SIM_PORT;
  check('SIM_PORT', (v) => {
    if (!/^\d{1,5}$/.test(v) || Number(v) > 65535) throw new Error('must be an integer 0-65535');
    options.port = Number(v);
  });
  check('SIM_HOST', (v) => {
    if (!/^[\w.:-]+$/.test(v)) throw new Error('must be a host name or IP address');
    options.host = v;
  });
  check('SIM_ACCOUNTS', (v) => {
    if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v))) throw new Error('must be a non-negative integer');
    options.accounts = Number(v);
  });
  check('SIM_ACCOUNTS_CSV', (v) => {
    if (get('SIM_ACCOUNTS') !== undefined) throw new Error('set SIM_ACCOUNTS or SIM_ACCOUNTS_CSV, not both');
    if (!existsSync(v)) throw new Error(`no such file: ${v}`);
    options.accountsCsv = v;
  });
  options.tokens = { [DEFAULT_TOKEN]: [...SCOPES] };
  check('SIM_TOKEN', (v) => {
    const tokens = (v.trimStart().startsWith('{') ? JSON.parse(v) : { [v]: [...SCOPES] }) as Record<string, string[]>;
    tokensFrom(tokens); // throws on a bad token or scope
    options.tokens = tokens;
  });
  check('SIM_RATE_LIMITS', (v) => {
    options.rateLimits = v === 'none' ? 'none' : validateRateLimits(JSON.parse(v));
  });
  check('SIM_FAULTS', (v) => {
    options.faults = validateFaultConfig(JSON.parse(v));
  });
  check('SIM_PROPAGATION', (v) => {
    options.propagation = validatePropagation(JSON.parse(v));
  });

  if (problems.length > 0) throw new SimEnvError(problems);
  return options;
}
