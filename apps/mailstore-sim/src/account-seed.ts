import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { AccountStore } from './account-store';
import { accountProblem } from './request-validation';

/** The n-th generated login (n from 1): the same as the test population's, so both sides agree. */
export function generatedLogin(n: number): string {
  return `user${n}@example.test`;
}

export interface SeedSource {
  accounts?: number | string[];
  accountsCsv?: string;
}

/** Without any source the simulator knows this many generated accounts (enough for a demo). */
export const DEFAULT_ACCOUNT_COUNT = 1000;

/** A store seeded from a count, a list and/or a CSV file (their union), every protocol off, version 1. */
export async function seedStore(source: SeedSource): Promise<AccountStore> {
  const store = new AccountStore();
  const now = Date.now();
  const { accounts, accountsCsv } = source;
  if (typeof accounts === 'number') {
    if (!Number.isSafeInteger(accounts) || accounts < 0) throw new Error('accounts must be a non-negative integer');
    store.reserve(accounts);
    for (let n = 1; n <= accounts; n++) store.add(generatedLogin(n), now);
  } else if (accounts !== undefined) {
    addLogins(store, accounts, now);
  } else if (accountsCsv === undefined) {
    for (let n = 1; n <= DEFAULT_ACCOUNT_COUNT; n++) store.add(generatedLogin(n), now);
  }
  if (accountsCsv !== undefined) {
    for await (const login of readCsvLogins(accountsCsv)) store.add(login, now);
  }
  return store;
}

/**
 * Adds logins after checking every one as the contract checks an account (all or nothing: a list with a
 * bad login adds none). Returns how many were new.
 */
export function addLogins(store: AccountStore, logins: readonly unknown[], now = Date.now()): number {
  logins.forEach((login, i) => {
    const problem = accountProblem(login);
    if (problem) throw new Error(`accounts[${i}]: ${problem}`);
  });
  const before = store.size;
  for (const login of logins as readonly string[]) store.add(login, now);
  return store.size - before;
}

/**
 * The first column of a CSV file whose header starts with `login` (the service's import format:
 * login,cohorts,leaked,password_changed_at). RFC 4180 quoting is honoured, including quoted fields that
 * span lines, so a cohort list such as "health,general" cannot shift columns. Blank lines are skipped;
 * a bad login fails the whole load with its line number (a half-seeded simulator would mislead tests).
 */
export async function* readCsvLogins(path: string): AsyncGenerator<string> {
  const input = createReadStream(path, 'utf8');
  const lines = createInterface({ input, crlfDelay: Infinity });
  try {
    yield* csvRecords(lines, path);
  } finally {
    // Also when the caller stops early or a bad line throws: no file handle outlives the read.
    lines.close();
    input.destroy();
  }
}

async function* csvRecords(lines: AsyncIterable<string>, path: string): AsyncGenerator<string> {
  let lineNo = 0;
  let record = '';
  let recordStart = 0;
  let headerSeen = false;
  for await (const line of lines) {
    lineNo++;
    if (record === '') recordStart = lineNo;
    record = record === '' ? line : `${record}\n${line}`;
    if (countQuotes(record) % 2 === 1) continue; // a quoted field goes on to the next line
    const text = record;
    record = '';
    if (!headerSeen) {
      const header = firstField(text.replace(/^\uFEFF/, ''))
        .trim()
        .toLowerCase();
      if (header !== 'login') throw new Error(`${path}: the header's first column must be "login", got "${header}"`);
      headerSeen = true;
      continue;
    }
    if (text.trim() === '') continue;
    const login = firstField(text);
    const problem = accountProblem(login);
    if (problem) throw new Error(`${path}:${recordStart}: ${problem}`);
    yield login;
  }
  if (record !== '') throw new Error(`${path}:${recordStart}: unterminated quoted field`);
  if (!headerSeen) throw new Error(`${path}: empty file (expected a header line starting with "login")`);
}

function countQuotes(text: string): number {
  let n = 0;
  for (let i = text.indexOf('"'); i !== -1; i = text.indexOf('"', i + 1)) n++;
  return n;
}

function firstField(record: string): string {
  if (!record.startsWith('"')) {
    const comma = record.indexOf(',');
    return comma === -1 ? record : record.slice(0, comma);
  }
  let out = '';
  for (let i = 1; i < record.length; i++) {
    const c = record[i];
    if (c !== '"') out += c;
    else if (record[i + 1] === '"') {
      out += '"';
      i++;
    } else break;
  }
  return out;
}
