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
      incidentAt: new Date(0),
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

  /**
   * A built entry point run on a bad environment: a service variable and the ldap driver's (nothing listens at the
   * databases' addresses, so a process that tried to connect would say so instead). Its exit code, its stderr's
   * first line, and whether the rest lists every problem, never the password.
   */
  function onBadEnvironment(script: string, ...argv: string[]) {
    ensureFreshBuild();
    const run = spawnSync(process.execPath, [join(repoRoot(), script), ...argv], {
      encoding: 'utf8',
      timeout: 20_000,
      env: {
        PATH: process.env.PATH,
        DATABASE_URL: 'postgres://nobody@127.0.0.1:1/nothing',
        REDIS_URL: 'redis://127.0.0.1:1',
        PORT: 'eighty',
        MAILSTORE_DRIVER: 'ldap',
        LDAP_URL: 'http://directory.example',
        LDAP_BIND_PASSWORD: 'pw-never-shown',
      },
    });
    const [first, ...problems] = run.stderr.trim().split('\n');
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^ {2}- PORT /),
        '  - LDAP_URL must be ldap://host[:port] or ldaps://host[:port]',
        '  - LDAP_BIND_DN is required with MAILSTORE_DRIVER=ldap',
      ]),
    );
    expect(run.stderr + run.stdout).not.toMatch(/pw-never-shown|ECONNREFUSED|unreachable/);
    return { status: run.status, stdout: run.stdout, first };
  }

  it('the real binary lists every problem of a bad environment at once, exit 1, never a password', () => {
    expect(onBadEnvironment('dist/apps/cli/src/main.js', 'check-config')).toEqual({
      status: 1,
      stdout: '',
      first: 'the API and the worker would refuse to start (MAILSTORE_DRIVER=ldap):',
    });
  });

  it.each(['api', 'worker'])('the %s refuses to start on the same list, before it connects anything', (name) => {
    expect(onBadEnvironment(`dist/apps/${name}/src/main.js`)).toMatchObject({
      status: 1,
      first: 'Invalid configuration:',
    });
  });
});
