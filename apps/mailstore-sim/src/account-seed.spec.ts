import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_ACCOUNT_COUNT, generatedLogin, readCsvLogins, seedStore } from './account-seed';

const dir = mkdtempSync(join(tmpdir(), 'sim-seed-'));
let fileNo = 0;
function csvFile(text: string): string {
  const path = join(dir, `accounts-${++fileNo}.csv`);
  writeFileSync(path, text);
  return path;
}

async function logins(path: string): Promise<string[]> {
  const out: string[] = [];
  for await (const login of readCsvLogins(path)) out.push(login);
  return out;
}

describe('generatedLogin', () => {
  it('is user<n>@example.test', () => {
    expect(generatedLogin(1)).toBe('user1@example.test');
    expect(generatedLogin(1_000_000)).toBe('user1000000@example.test');
  });
});

describe('readCsvLogins', () => {
  it('reads the first column under the import header, ignoring the others', async () => {
    const path = csvFile(
      'login,cohorts,leaked,password_changed_at\na@x.test,health,true,2026-05-02T00:00:00Z\nb@x.test,general,false,\n',
    );
    expect(await logins(path)).toEqual(['a@x.test', 'b@x.test']);
  });

  it('handles BOM, CRLF, blank lines and quoted fields spanning lines', async () => {
    const path = csvFile(
      '\uFEFFlogin,cohorts\r\n"q""uote@x.test","health,\r\ngeneral"\r\n\r\nplain@x.test,general\r\n',
    );
    expect(await logins(path)).toEqual(['q"uote@x.test', 'plain@x.test']);
  });

  it('refuses a file whose header does not start with login', async () => {
    await expect(logins(csvFile('email,cohorts\na@x.test,health\n'))).rejects.toThrow(/first column must be "login"/);
  });

  it('names the line of a bad login', async () => {
    await expect(logins(csvFile('login\na@x.test\n  padded@x.test\n'))).rejects.toThrow(/:3: account has leading/);
  });

  it('refuses an empty file', async () => {
    await expect(logins(csvFile(''))).rejects.toThrow(/empty file/);
  });
});

describe('seedStore', () => {
  it('generates accounts by count, all off at version 1', async () => {
    const store = await seedStore({ accounts: 3 });
    expect(store.size).toBe(3);
    expect(store.find(generatedLogin(3))).toBe(2);
    expect(store.view(0)).toMatchObject({ protocols: { imap: false, pop3: false }, version: 1, sessions: 0 });
  });

  it('takes the union of a list and a CSV file', async () => {
    const store = await seedStore({
      accounts: ['a@x.test', 'b@x.test'],
      accountsCsv: csvFile('login\nb@x.test\nc@x.test\n'),
    });
    expect(store.size).toBe(3);
  });

  it('falls back to the default count when given nothing', async () => {
    expect((await seedStore({})).size).toBe(DEFAULT_ACCOUNT_COUNT);
  });

  it('refuses a bad login in a list', async () => {
    await expect(seedStore({ accounts: ['ok@x.test', ''] })).rejects.toThrow(/accounts\[1\]/);
  });
});
