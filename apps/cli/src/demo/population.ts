import { populationAccount, populationCsv as syntheticCsv, PopulationOptions } from '@app/domain';

/**
 * The demo's population: the project's synthetic one (@app/domain, as in the tests and benchmarks), with the
 * incident's shape: about 3 % health professionals, 12 % on the leaked list, 80 % of those having changed their
 * password since the incident (the others stay held as password_reset_required). Deterministic: account n is the
 * same on every run and on both sides, the service (imported as CSV) and the mailstore simulator (which generates
 * `user<n>@example.test` for n = 1..SIM_ACCOUNTS).
 */
const SEED = 1;

export interface DemoAccount {
  n: number;
  login: string;
  cohort: 'health' | 'general';
  leaked: boolean;
  /** Leaked and changed after the incident: safe to reopen. */
  reset: boolean;
  passwordChangedAt: Date | null;
}

function options(count: number, incidentAt: Date): PopulationOptions {
  return { count, seed: SEED, incidentAt: incidentAt.toISOString() };
}

export function demoAccount(n: number, incidentAt: Date): DemoAccount {
  const a = populationAccount(n, options(n, incidentAt));
  const changedAt = a.passwordChangedAt === null ? null : new Date(a.passwordChangedAt);
  return {
    n,
    login: a.login,
    cohort: a.cohorts.includes('health') ? 'health' : 'general',
    leaked: a.leaked,
    reset: a.leaked && changedAt !== null && changedAt > incidentAt,
    passwordChangedAt: changedAt,
  };
}

/** The import file, generated as it is sent: header first, then ~rowsPerChunk lines per chunk. */
export async function* populationCsv(count: number, incidentAt: Date, rowsPerChunk = 5000): AsyncGenerator<Buffer> {
  for (const chunk of syntheticCsv(options(count, incidentAt), rowsPerChunk)) yield Buffer.from(chunk);
}

export interface PopulationSummary {
  total: number;
  health: number;
  general: number;
  leaked: number;
  leakedReset: number;
  /** Leaked and not changed since the incident: every wave holds them back. */
  held: number;
  heldHealth: number;
}

export function summarizePopulation(count: number, incidentAt: Date): PopulationSummary {
  const s: PopulationSummary = {
    total: count,
    health: 0,
    general: 0,
    leaked: 0,
    leakedReset: 0,
    held: 0,
    heldHealth: 0,
  };
  for (let n = 1; n <= count; n++) {
    const a = demoAccount(n, incidentAt);
    if (a.cohort === 'health') s.health++;
    else s.general++;
    if (!a.leaked) continue;
    s.leaked++;
    if (a.reset) s.leakedReset++;
    else {
      s.held++;
      if (a.cohort === 'health') s.heldHealth++;
    }
  }
  return s;
}

/** The first account (from the `from`-th) that matches, e.g. a held health professional for the support story. */
export function findAccount(
  count: number,
  incidentAt: Date,
  matches: (a: DemoAccount) => boolean,
  from = 1,
): DemoAccount {
  for (let n = from; n <= count; n++) {
    const a = demoAccount(n, incidentAt);
    if (matches(a)) return a;
  }
  throw new Error(`no account of the ${count} matches what the story needs: raise DEMO_ACCOUNTS`);
}
