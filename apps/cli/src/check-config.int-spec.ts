import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import {
  createPassdbDatabase,
  dovecotSqlEnv,
  ensureFreshBuild,
  freeLoopbackPort,
  type PassdbDatabase,
  repoRoot,
} from '@app/testing';
import { runCommand } from './commands';

describe('check-config: the environment as the processes read it, then the mail server through the driver', () => {
  let passdb: PassdbDatabase;
  beforeAll(async () => {
    passdb = await createPassdbDatabase('postgres', 'columns');
  });
  afterAll(async () => {
    await passdb?.drop();
  });

  async function check(env: NodeJS.ProcessEnv, ...argv: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCommand(['check-config', ...argv], {
      databaseUrl: 'postgres://unused@127.0.0.1:1/unused',
      ownerDatabaseUrl: 'postgres://unused@127.0.0.1:1/unused',
      out: (line) => out.push(line),
      err: (line) => err.push(line),
      env,
    });
    return { code, out: out.join('\n'), err: err.join('\n') };
  }

  it('says ok and, with --probe, that the passdb answers', async () => {
    expect(await check(dovecotSqlEnv(passdb))).toEqual({
      code: 0,
      out: 'configuration ok (MAILSTORE_DRIVER=dovecot-sql)',
      err: '',
    });
    expect(await check(dovecotSqlEnv(passdb), '--probe')).toEqual({
      code: 0,
      out: 'configuration ok (MAILSTORE_DRIVER=dovecot-sql)\nmailstore: up',
      err: '',
    });
  });

  it('fails the probe of a table the passdb does not have, or a database that does not answer, naming the part', async () => {
    const wrongTable = await check({ ...dovecotSqlEnv(passdb), DOVECOT_SQL_TABLE: 'no_such_table' }, '--probe');
    expect(wrongTable).toMatchObject({ code: 1, err: expect.stringMatching(/^mailstore: down \(passdb: .+\)$/) });
    const elsewhere = new URL(passdb.url);
    elsewhere.port = String(await freeLoopbackPort());
    const json = await check({ ...dovecotSqlEnv(passdb), DOVECOT_SQL_URL: elsewhere.toString() }, '--probe', '--json');
    expect(json.code).toBe(1);
    expect(JSON.parse(json.out)).toMatchObject({
      ok: false,
      driver: 'dovecot-sql',
      problems: [],
      probe: { up: false, part: 'passdb' },
    });
  });

  it('the real binary lists every problem of a bad environment at once, exit 1, never a password', () => {
    ensureFreshBuild();
    const run = spawnSync(process.execPath, [join(repoRoot(), 'dist/apps/cli/src/main.js'), 'check-config'], {
      encoding: 'utf8',
      env: {
        PATH: process.env.PATH,
        PORT: 'eighty',
        MAILSTORE_DRIVER: 'ldap',
        LDAP_URL: 'http://directory.example',
        LDAP_BIND_PASSWORD: 'pw-never-shown',
      },
    });
    expect(run.status).toBe(1);
    expect(run.stdout).toBe('');
    const lines = run.stderr.trim().split('\n');
    expect(lines[0]).toBe('the API and the worker would refuse to start (MAILSTORE_DRIVER=ldap):');
    expect(lines.slice(1)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^ {2}- PORT /),
        '  - LDAP_URL must be ldap://host[:port] or ldaps://host[:port]',
        '  - LDAP_BIND_DN is required with MAILSTORE_DRIVER=ldap',
      ]),
    );
    expect(run.stderr).not.toContain('pw-never-shown');
  });
});
