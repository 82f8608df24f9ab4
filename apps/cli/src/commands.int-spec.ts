import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiKeyService } from '@app/core';
import { createTestDatabase, DEFAULT_INCIDENT_AT, TEST_RUNTIME_ROLE, TestDatabase } from '@app/testing';
import { runCommand } from './commands';

describe('CLI commands (real PostgreSQL)', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('cli');
  });
  afterAll(async () => {
    await db?.drop();
  });

  async function cli(...argv: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCommand(argv, {
      databaseUrl: db.url,
      ownerDatabaseUrl: db.ownerUrl,
      incidentAt: new Date(DEFAULT_INCIDENT_AT),
      out: (line) => out.push(line),
      err: (line) => err.push(line),
    });
    return { code, out: out.join('\n'), err: err.join('\n') };
  }

  it('creates a key (secret printed once), lists it with its last use, revokes it', async () => {
    expect(await cli('list-api-keys')).toMatchObject({ code: 0, out: expect.stringMatching(/^no API keys/) });
    const created = await cli('create-api-key', '--role', 'support', '--name', 'carol');
    expect(created.code).toBe(0);
    const secret = /^(rk_support_\S+)$/m.exec(created.out)![1];
    const id = /\(id ([0-9a-f-]{36})\)/.exec(created.out)![1];

    let listed = await cli('list-api-keys');
    expect(listed.code).toBe(0);
    const header = listed.out.split('\n')[0];
    expect(header).toMatch(/^ID\s+ROLE\s+NAME\s+PREFIX\s+CREATED \(UTC\)\s+LAST USED \(UTC\)\s+REVOKED \(UTC\)$/);
    expect(listed.out).toMatch(
      new RegExp(
        `^${id}\\s+support\\s+carol\\s+${/^rk_support_[0-9a-f]{6}/.exec(secret)![0]}\\s+\\S+ \\S+\\s+never$`,
        'm',
      ),
    );
    expect(listed.out).not.toContain(secret);

    await new ApiKeyService(db.dataSource).verify(secret);
    const json = JSON.parse((await cli('list-api-keys', '--json')).out) as { id: string; lastUsedAt: string | null }[];
    expect(Date.parse(json.find((k) => k.id === id)!.lastUsedAt!)).toBeGreaterThan(Date.now() - 60_000);

    expect(await cli('revoke-api-key', id)).toMatchObject({ code: 0, out: `revoked ${id}` });
    expect(await cli('revoke-api-key', id)).toMatchObject({ code: 1, out: `no active key ${id}` });
    listed = await cli('list-api-keys');
    expect(listed.out).toMatch(new RegExp(`^${id}\\s+support\\s+carol\\s+.*\\d{2}:\\d{2}$`, 'm'));
  });

  it('migrates as the owner and sets up the runtime role of DATABASE_URL', async () => {
    expect(await cli('migrate')).toEqual({
      code: 0,
      out: `schema is up to date\nruntime role ${TEST_RUNTIME_ROLE}: checked, grants applied (it cannot alter or bypass the audit log)`,
      err: '',
    });
  });

  it('answers bad usage with exit code 2 and says what is missing', async () => {
    expect(await cli('create-api-key', '--role', 'root', '--name', 'x')).toMatchObject({
      code: 2,
      err: expect.stringContaining('--role (ops, support, viewer, signals)'),
    });
    expect(await cli('revoke-api-key')).toMatchObject({
      code: 2,
      err: 'revoke-api-key takes 1 argument, got 0: npm run cli -- revoke-api-key ID',
    });
    expect(await cli('import-accounts')).toMatchObject({ code: 2, err: expect.stringContaining('takes 1 argument') });
    expect(await cli('import-accounts', '/nonexistent.csv')).toMatchObject({
      code: 2,
      err: 'cannot read /nonexistent.csv',
    });
    expect(await cli('frobnicate')).toMatchObject({
      code: 2,
      err: expect.stringContaining('unknown command "frobnicate"'),
    });
    expect(await cli()).toMatchObject({ code: 2, err: expect.stringContaining('list-api-keys') });
    expect(await cli('import-accounts', '--help')).toMatchObject({
      code: 0,
      out: expect.stringContaining('--partial'),
    });
  });

  it('refuses a mistyped option instead of ignoring it: --partal imports nothing', async () => {
    const file = join(tmpdir(), `cli-typo-${process.pid}.csv`);
    await writeFile(file, 'login,cohorts,leaked,password_changed_at\ntypo@example.org,health,false,\n');
    expect(await cli('import-accounts', file, '--partal')).toEqual({
      code: 2,
      out: '',
      err: "import-accounts: Unknown option '--partal' (see npm run cli -- import-accounts --help)",
    });
    expect(await db.dataSource.query(`SELECT login FROM accounts WHERE login = 'typo@example.org'`)).toEqual([]);
  });

  it('imports a CSV all-or-nothing, and the good lines with --partial', async () => {
    const file = join(tmpdir(), `cli-import-${process.pid}.csv`);
    const csv = [
      'login,cohorts,leaked,password_changed_at',
      'dr.a@example.org,health,false,',
      'b@example.org,general,true,2026-05-02T10:00:00Z',
      'not a login,general,false,',
    ].join('\n');
    await writeFile(file, `${csv}\n`);
    const count = async () => Number((await db.dataSource.query(`SELECT count(*) AS n FROM accounts`))[0].n);

    const rejected = await cli('import-accounts', file);
    expect(rejected.code).toBe(2);
    expect(rejected.out).toContain('rejected: nothing imported');
    expect(await count()).toBe(0);

    const partial = await cli('import-accounts', file, '--partial', '--json');
    expect(partial.code).toBe(0);
    expect(JSON.parse(partial.out)).toMatchObject({ status: 'imported', inserted: 2 });
    expect(await count()).toBe(2);
  });
});
