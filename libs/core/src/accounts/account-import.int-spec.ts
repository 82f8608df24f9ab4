import { Readable } from 'node:stream';
import { createTestDatabase, DEFAULT_INCIDENT_AT, populationCsv, TestDatabase } from '@app/testing';
import { AccountImportService } from './account-import.service';
import { ImportFileError, LineTooLongError } from './account-import.types';

const HEADER = 'login,cohorts,leaked,password_changed_at';

/** Builds a CSV file from lines (header added unless `header` is given), delivered in small chunks. */
function csv(lines: string[], header: string | null = HEADER): Readable {
  const text = [...(header === null ? [] : [header]), ...lines].join('\n') + '\n';
  const chunks: Buffer[] = [];
  const bytes = Buffer.from(text);
  for (let i = 0; i < bytes.length; i += 7) chunks.push(bytes.subarray(i, i + 7)); // split mid-line and mid-character
  return Readable.from(chunks);
}

describe('AccountImportService (real PostgreSQL)', () => {
  let db: TestDatabase;
  let service: AccountImportService;

  beforeAll(async () => {
    db = await createTestDatabase('import');
    service = new AccountImportService(db.dataSource, new Date(DEFAULT_INCIDENT_AT));
  });
  afterAll(async () => {
    await db?.drop();
  });
  beforeEach(async () => {
    await db.owner.query('TRUNCATE accounts CASCADE'); // the owner's: the service's role may not TRUNCATE
  });

  type AccountRow = {
    login: string;
    cohorts: string[];
    leaked: boolean;
    password_changed_at: Date | null;
    version: number;
  };
  const accounts = () =>
    db.dataSource.query<AccountRow[]>(
      `SELECT login, cohorts, leaked, password_changed_at, version FROM accounts ORDER BY login`,
    );

  it('imports a good file and reports what it did', async () => {
    const report = await service.importCsv(
      csv([
        'alice@example.test,health,false,',
        'Bob@Example.test,general|health,true,2026-05-03T10:00:00+02:00',
        '',
        'carol@example.test,,TRUE,',
      ]),
      { actor: 'test' },
    );
    expect(report).toMatchObject({
      status: 'imported',
      lines: 3,
      valid: 3,
      rejected: 0,
      inserted: 3,
      updated: 0,
      unchanged: 0,
      errors: [],
    });
    const rows = await accounts();
    expect(rows).toEqual([
      { login: 'alice@example.test', cohorts: ['health'], leaked: false, password_changed_at: null, version: 1 },
      {
        login: 'bob@example.test',
        cohorts: ['general', 'health'],
        leaked: true,
        password_changed_at: new Date('2026-05-03T08:00:00Z'),
        version: 1,
      },
      { login: 'carol@example.test', cohorts: [], leaked: true, password_changed_at: null, version: 1 },
    ]);
    const audit = await db.dataSource.query(
      `SELECT actor, action, detail FROM audit_log WHERE action = 'accounts.imported'`,
    );
    expect(audit).toEqual([
      { actor: 'test', action: 'accounts.imported', detail: expect.objectContaining({ inserted: 3, rejected: 0 }) },
    ]);
  });

  it('rejects the whole file on any bad line, reporting every bad line with its number and reason', async () => {
    const report = await service.importCsv(
      csv([
        'alice@example.test,health,false,',
        'not-a-login,health,false,',
        'dave@example.test,health,perhaps,',
        'erin@example.test,health,false,tomorrow',
        'frank@example.test,health,false',
        'ALICE@example.test,general,false,',
      ]),
    );
    expect(report.status).toBe('rejected');
    expect(report).toMatchObject({ lines: 6, valid: 1, rejected: 5, inserted: 0 });
    expect(report.errors).toEqual([
      { line: 3, field: 'login', reason: expect.stringMatching(/bad login "not-a-login"/) },
      { line: 4, field: 'leaked', reason: expect.stringMatching(/unknown boolean "perhaps"/) },
      { line: 5, field: 'password_changed_at', reason: expect.stringMatching(/bad timestamp "tomorrow"/) },
      { line: 6, reason: 'expected 4 columns, found 3' },
      { line: 7, field: 'login', reason: 'duplicate login "alice@example.test" (first at line 2)' },
    ]);
    expect(await accounts()).toEqual([]);
    const audit = await db.dataSource.query(
      `SELECT count(*)::int AS n FROM audit_log WHERE action = 'accounts.imported'`,
    );
    expect(audit[0].n).toBe(1); // only the first test's import
  });

  it('with partial, imports the good lines (first of duplicates) and reports the bad ones', async () => {
    const report = await service.importCsv(
      csv([
        'alice@example.test,health,false,',
        'bad line',
        'bob@example.test,general,false,',
        'alice@example.test,general,true,',
      ]),
      { partial: true },
    );
    expect(report).toMatchObject({ status: 'imported', partial: true, lines: 4, valid: 2, rejected: 2, inserted: 2 });
    expect(report.errors.map((e) => e.line)).toEqual([3, 5]);
    expect((await accounts()).map((a) => [a.login, a.cohorts])).toEqual([
      ['alice@example.test', ['health']],
      ['bob@example.test', ['general']],
    ]);
  });

  it('re-importing the same file changes nothing; a changed line updates only that account', async () => {
    const lines = ['alice@example.test,health,false,', 'bob@example.test,general,true,2026-05-03T10:00:00Z'];
    await service.importCsv(csv(lines));
    const before = await db.dataSource.query(`SELECT login, version, updated_at FROM accounts ORDER BY login`);
    const again = await service.importCsv(csv(lines));
    expect(again).toMatchObject({ status: 'imported', inserted: 0, updated: 0, unchanged: 2 });
    expect(await db.dataSource.query(`SELECT login, version, updated_at FROM accounts ORDER BY login`)).toEqual(before);

    const changed = await service.importCsv(
      csv(['alice@example.test,health,false,', 'bob@example.test,general,true,2026-05-04T10:00:00Z']),
    );
    expect(changed).toMatchObject({ inserted: 0, updated: 1, unchanged: 1 });
    const bob = (await accounts()).find((a) => a.login === 'bob@example.test')!;
    expect(bob.version).toBe(2);
    expect(bob.password_changed_at).toEqual(new Date('2026-05-04T10:00:00Z'));
  });

  it('two imports of the same logins at once, in opposite orders, both answer; the last one merged holds every row', async () => {
    const logins = Array.from({ length: 20_000 }, (_, i) => `u${String(i).padStart(5, '0')}@example.test`);
    await service.importCsv(csv(logins.map((l) => `${l},general,false,`)));
    const health = logins.map((l) => `${l},health,false,`);
    const leaked = [...logins].reverse().map((l) => `${l},general,true,`);
    // Each locks the rows it merges in its own file's order: without one merge at a time, PostgreSQL found a
    // deadlock in each of 3 runs and the loser's operator got a 500 for a file that was fine.
    const reports = await Promise.all([service.importCsv(csv(health)), service.importCsv(csv(leaked))]);
    expect(reports.map((r) => [r.status, r.updated])).toEqual([
      ['imported', 20_000],
      ['imported', 20_000],
    ]);
    const [mix] = await db.dataSource.query<{ kinds: number; n: number }[]>(
      `SELECT count(DISTINCT (cohorts, leaked))::int AS kinds, count(*)::int AS n FROM accounts`,
    );
    expect(mix).toEqual({ kinds: 1, n: 20_000 });
  });

  it('a late leaked list names the accounts it holds back that are recorded open, in the report and the audit', async () => {
    const first = ['alice', 'bob', 'carol', 'dave'].map((n) => `${n}@example.test,health,false,`);
    await service.importCsv(csv(first));
    // Opened by a wave (alice IMAP, bob POP3, dave both: dave by support, over the hold, with a live override).
    await db.owner.query(
      `UPDATE accounts SET imap_enabled = true WHERE login IN ('alice@example.test', 'dave@example.test')`,
    );
    await db.owner.query(
      `UPDATE accounts SET pop3_enabled = true WHERE login IN ('bob@example.test', 'dave@example.test')`,
    );
    await db.owner.query(
      `UPDATE accounts SET override_reason = 'billing', override_ticket = 'T-1', override_expires_at = now() + interval '1 day'
        WHERE login = 'dave@example.test'`,
    );
    const report = await service.importCsv(
      csv([
        'alice@example.test,health,true,',
        'bob@example.test,health,true,2026-04-30T10:00:00Z', // changed before the incident: still held
        'carol@example.test,health,true,', // held, but closed
        'dave@example.test,health,true,',
      ]),
      { actor: 'ops:late-list' },
    );
    expect(report).toMatchObject({
      status: 'imported',
      updated: 4,
      openHeld: 2,
      openHeldLogins: ['alice@example.test', 'bob@example.test'],
    });
    const [audit] = await db.dataSource.query<{ detail: Record<string, unknown> }[]>(
      `SELECT detail FROM audit_log WHERE action = 'accounts.imported' AND actor = 'ops:late-list'`,
    );
    expect(audit.detail).toMatchObject({ openHeld: 2, openHeldLogins: ['alice@example.test', 'bob@example.test'] });
    // Re-imported, nothing changes, and nothing is reported again.
    expect(await service.importCsv(csv(['alice@example.test,health,true,']))).toMatchObject({
      updated: 0,
      openHeld: 0,
    });
  });

  it.each([
    [[], '', /missing header: the file is empty/],
    [['alice@example.test,health,false,'], null, /wrong header "alice@example.test,health,false,"/],
    [
      ['alice@example.test,health,false,'],
      'login,cohorts,leaked',
      /wrong header .* expected "login,cohorts,leaked,password_changed_at"/,
    ],
  ])('refuses a file with a missing or wrong header (%#)', async (lines, header, message) => {
    const source = header === '' ? Readable.from([]) : csv(lines, header);
    await expect(service.importCsv(source)).rejects.toThrow(ImportFileError);
    await expect(service.importCsv(header === '' ? Readable.from([]) : csv(lines, header))).rejects.toThrow(message);
    expect(await accounts()).toEqual([]);
  });

  it('refuses a login with an invalid UTF-8 byte (instead of storing U+FFFD), naming line and field', async () => {
    const bytes = (latin1Login: string) =>
      Buffer.concat([
        Buffer.from(`${HEADER}\nalice@example.test,health,false,\n`),
        Buffer.from(latin1Login, 'latin1'), // é as the single byte 0xE9: not UTF-8
        Buffer.from(',health,false,\nbob@example.test,general,false,\n'),
      ]);
    const report = await service.importCsv(Readable.from([bytes('élise@example.test')]));
    expect(report).toMatchObject({ status: 'rejected', rejected: 1, inserted: 0 });
    expect(report.errors).toEqual([{ line: 3, field: 'login', reason: expect.stringMatching(/not valid UTF-8/) }]);
    expect(await accounts()).toEqual([]);

    // partial keeps its meaning: the good lines go in, the bad one is reported and never stored altered.
    const partial = await service.importCsv(Readable.from([bytes('élise@example.test')]), { partial: true });
    expect(partial).toMatchObject({ status: 'imported', inserted: 2, rejected: 1 });
    expect((await accounts()).map((a) => a.login)).toEqual(['alice@example.test', 'bob@example.test']);
  });

  it.each([
    ['a NUL byte', 'al\u0000ice@example.test,health,false,', 'login', /NUL/],
    ['a lone surrogate', 'alice@example.test,health\ud800,false,', 'cohorts', /lone surrogate/],
    ['year 0050', 'alice@example.test,health,true,0050-05-03T10:00:00Z', 'password_changed_at', /year 0050/],
    ['a change in 2062', 'alice@example.test,health,true,2062-05-03T10:00:00Z', 'password_changed_at', /future/],
  ])('refuses %s naming the line and field, and stores nothing', async (_what, line, field, reason) => {
    // Strings straight to the service (as a caller with text would send them): no decoder in between.
    const report = await service.importCsv(Readable.from([`${HEADER}\n${line}\n`]));
    expect(report).toMatchObject({ status: 'rejected', inserted: 0 });
    expect(report.errors).toEqual([{ line: 2, field, reason: expect.stringMatching(reason) }]);
    expect(await accounts()).toEqual([]);
  });

  it('refuses a line past the line limit where it passes it, without reading on, and writes nothing', async () => {
    let pulled = 0;
    async function* file(): AsyncGenerator<Buffer> {
      yield Buffer.from(`${HEADER}\nalice@example.test,health,false,\nbob@example.test,`);
      for (let i = 0; i < 10_000; i++) {
        pulled++;
        yield Buffer.from('general|'.repeat(128)); // 10 MB in all without a line break
      }
    }
    const importing = service.importCsv(file(), { maxLineChars: 4096 });
    await expect(importing).rejects.toThrow(LineTooLongError);
    await expect(importing).rejects.toMatchObject({
      code: 'line_too_long',
      extra: { line: 3, field: 'cohorts', limitChars: 4096 },
    });
    expect(pulled).toBeLessThanOrEqual(5);
    expect(await accounts()).toEqual([]);
  });

  it('names only a short prefix of a wrong first line, however long', async () => {
    const firstLine = `alice@example.test,${'health|'.repeat(12_000)},false,`;
    const importing = service.importCsv(Readable.from([`${firstLine}\n`]), { maxLineChars: 100_000 });
    await expect(importing).rejects.toMatchObject({ code: 'wrong_header' });
    const message = await importing.then(String, (err: Error) => err.message);
    expect(message.length).toBeLessThan(200);
  });

  it('refuses a file over the line limit and writes nothing', async () => {
    const source = csv(['a@example.test,,false,', 'b@example.test,,false,', 'c@example.test,,false,']);
    await expect(service.importCsv(source, { maxLines: 2 })).rejects.toThrow(/more than 2 data lines/);
    expect(await accounts()).toEqual([]);
  });

  it('caps the listed errors but counts them all', async () => {
    const bad = Array.from({ length: 30 }, (_, i) => `bad${i},,false,`);
    const report = await service.importCsv(csv(bad), { maxErrorsReported: 10 });
    expect(report).toMatchObject({ status: 'rejected', rejected: 30, errorsTruncated: true });
    expect(report.errors).toHaveLength(10);
    expect(report.errors[0].line).toBe(2);
  });

  it('imports a 100,000-row population, then re-imports it without changes', async () => {
    const population = { count: 100_000, seed: 7 };
    const report = await service.importCsv(Readable.from(populationCsv(population)));
    expect(report).toMatchObject({
      status: 'imported',
      lines: 100_000,
      valid: 100_000,
      inserted: 100_000,
      rejected: 0,
    });
    const [stats] = await db.dataSource.query(`
      SELECT count(*)::int AS n,
             count(*) FILTER (WHERE 'health' = ANY(cohorts))::int AS health,
             count(*) FILTER (WHERE leaked)::int AS leaked,
             count(*) FILTER (WHERE leaked AND password_changed_at IS NULL)::int AS unreset
        FROM accounts`);
    expect(stats.n).toBe(100_000);
    expect(stats.health / stats.n).toBeCloseTo(0.03, 2);
    expect(stats.leaked / stats.n).toBeCloseTo(0.12, 2);
    expect(stats.unreset / stats.leaked).toBeCloseTo(0.2, 1);
    const again = await service.importCsv(Readable.from(populationCsv(population)));
    expect(again).toMatchObject({ inserted: 0, updated: 0, unchanged: 100_000 });
  });
});
