/**
 * The demo's synthetic population, like the incident's: about 3 % health professionals, the rest `general`;
 * 12 % on the leaked list, 80 % of those having changed their password since the incident (the others stay held
 * as password_reset_required). Deterministic: account n is the same on every run and on both sides, the service
 * (imported as CSV) and the mailstore simulator (which generates `user<n>@example.test` for n = 1..SIM_ACCOUNTS).
 */

export const HEALTH_SHARE = 0.03;
export const LEAKED_SHARE = 0.12;
/** Of the leaked accounts, the share whose password changed after the incident. */
export const RESET_SHARE = 0.8;

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export interface DemoAccount {
  n: number;
  login: string;
  cohort: 'health' | 'general';
  leaked: boolean;
  /** Leaked and changed after the incident: safe to reopen. */
  reset: boolean;
  passwordChangedAt: Date | null;
}

export function demoLogin(n: number): string {
  return `user${n}@example.test`;
}

/** A uniform number in [0, 1) per (n, salt): a stateless integer hash, so any account can be recomputed alone. */
function unit(n: number, salt: number): number {
  let x = (Math.imul(n, 0x9e3779b1) ^ Math.imul(salt + 0x5bd1e995, 0x85ebca6b)) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d) >>> 0;
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b) >>> 0;
  return ((x ^ (x >>> 16)) >>> 0) / 4294967296;
}

export function demoAccount(n: number, incidentAt: Date): DemoAccount {
  const health = unit(n, 1) < HEALTH_SHARE;
  const leaked = unit(n, 2) < LEAKED_SHARE;
  const reset = leaked && unit(n, 3) < RESET_SHARE;
  const incident = incidentAt.getTime();
  const r = unit(n, 4);
  let changed: number | null;
  if (reset) {
    changed = incident + HOUR + Math.floor(r * 7 * DAY); // forced change, within a week of the incident
  } else if (leaked) {
    changed = r < 0.5 ? null : incident - DAY - Math.floor(r * 400 * DAY); // never, or long before the leak
  } else {
    changed = r < 0.4 ? null : incident - Math.floor(r * 900 * DAY) + 7 * DAY; // ordinary users: any time
  }
  return {
    n,
    login: demoLogin(n),
    cohort: health ? 'health' : 'general',
    leaked,
    reset,
    passwordChangedAt: changed === null ? null : new Date(changed),
  };
}

export function csvLine(a: DemoAccount): string {
  return `${a.login},${a.cohort},${a.leaked},${a.passwordChangedAt?.toISOString() ?? ''}\n`;
}

export const CSV_HEADER = 'login,cohorts,leaked,password_changed_at\n';

/** The import file, generated as it is sent: header first, then ~rowsPerChunk lines per chunk. */
export async function* populationCsv(count: number, incidentAt: Date, rowsPerChunk = 5000): AsyncGenerator<Buffer> {
  yield Buffer.from(CSV_HEADER);
  let chunk = '';
  for (let n = 1; n <= count; n++) {
    chunk += csvLine(demoAccount(n, incidentAt));
    if (n % rowsPerChunk === 0) {
      yield Buffer.from(chunk);
      chunk = '';
    }
  }
  if (chunk) yield Buffer.from(chunk);
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
