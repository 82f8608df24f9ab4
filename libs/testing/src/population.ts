import { accountCsvLine, ACCOUNT_CSV_COLUMNS, PopulationAccount, populationLogin } from '@app/domain';

/** Logins `from` to `to` (inclusive) of the synthetic population (`user<n>@example.test`, as the simulator seeds). */
export function loginRange(from: number, to: number): string[] {
  return Array.from({ length: to - from + 1 }, (_, i) => populationLogin(from + i));
}

/**
 * Hands out the population's logins in order, each once: `const logins = loginAllocator(); logins(600)`. One per
 * test file keeps the accounts of its waves apart, so one wave's check never sees another's changes.
 */
export function loginAllocator(first = 1): (n: number) => string[] {
  let next = first;
  return (n) => {
    const logins = loginRange(next, next + n - 1);
    next += n;
    return logins;
  };
}

/** The CSV of these accounts, header first, as `POST /accounts/import` and AccountImportService take it. */
export function accountsCsv(accounts: readonly PopulationAccount[]): string {
  return `${ACCOUNT_CSV_COLUMNS.join(',')}\n${accounts.map(accountCsvLine).join('')}`;
}
