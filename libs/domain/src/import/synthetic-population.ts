import { ACCOUNT_CSV_COLUMNS } from './account-row';

/**
 * A synthetic population like the incident's (tests, benchmarks and the demo), deterministic for a given size
 * and seed:
 * ~3 % health professionals, ~12 % on the leaked list, ~80 % of those reset since the incident.
 * Logins are user<n>@example.test, the simulator's generated logins, so both sides agree.
 */
export interface PopulationOptions {
  count: number;
  healthShare?: number;
  leakedShare?: number;
  /** Share of leaked accounts whose password changed after the incident. */
  resetShare?: number;
  /** The incident: passwords changed after it are considered safe. */
  incidentAt?: string;
  seed?: number;
}

export const DEFAULT_INCIDENT_AT = '2026-05-01T00:00:00.000Z';

export function populationLogin(n: number): string {
  return `user${n}@example.test`;
}

/** One uniform number in [0, 1) per (n, salt): a stateless hash, so any line can be recomputed alone. */
function unit(n: number, salt: number): number {
  let x = (Math.imul(n, 0x9e3779b1) ^ Math.imul(salt, 0x85ebca6b)) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d) >>> 0;
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b) >>> 0;
  return ((x ^ (x >>> 16)) >>> 0) / 4294967296;
}

export interface PopulationAccount {
  login: string;
  cohorts: string[];
  leaked: boolean;
  passwordChangedAt: string | null;
}

export function populationAccount(n: number, options: PopulationOptions): PopulationAccount {
  const seed = options.seed ?? 1;
  const health = unit(n, seed * 3 + 1) < (options.healthShare ?? 0.03);
  const leaked = unit(n, seed * 3 + 2) < (options.leakedShare ?? 0.12);
  const reset = leaked && unit(n, seed * 3 + 3) < (options.resetShare ?? 0.8);
  const incident = Date.parse(options.incidentAt ?? DEFAULT_INCIDENT_AT);
  const changedAt = reset ? new Date(incident + Math.floor(unit(n, seed * 7) * 6 * 86_400_000)).toISOString() : null;
  return { login: populationLogin(n), cohorts: [health ? 'health' : 'general'], leaked, passwordChangedAt: changedAt };
}

export function accountCsvLine(a: PopulationAccount): string {
  return `${a.login},${a.cohorts.join('|')},${a.leaked},${a.passwordChangedAt ?? ''}\n`;
}

/** The CSV text of the population in chunks of ~`chunkRows` lines, header first (for streams and files). */
export function* populationCsv(options: PopulationOptions, chunkRows = 5000): Generator<string> {
  yield `${ACCOUNT_CSV_COLUMNS.join(',')}\n`;
  let chunk = '';
  for (let n = 1; n <= options.count; n++) {
    chunk += accountCsvLine(populationAccount(n, options));
    if (n % chunkRows === 0) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk) yield chunk;
}
