import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { Client } from 'pg';
import { parse } from 'yaml';
import { quoteIdent, withDatabase, withUser } from '@app/db';
import {
  DockerStage,
  freeLoopbackPort,
  layOutFinalStage,
  requirePostgres,
  runDatabasePrefix,
  runId,
  TEST_REDIS_URL,
  TEST_RUNTIME_ROLE,
  TEST_SERVER_URL,
  testRuntimeUrl,
  WorkerProcess,
} from '@app/testing';
import { ensureFreshBuild } from './api-process';

const ROOT = join(__dirname, '../..');

interface Ran {
  code: number;
  out: string;
  err: string;
}

/**
 * The image's runtime stage, laid out from the Dockerfile's COPY lines without Docker (issue 16: "the CLI runs inside
 * the image without rebuilding"): the admin CLI, through the same `reopen-admin` wrapper, runs the README's sequence
 * (migrate, create-api-key, import-accounts) on a database of its own, and a worker started from the layout passes
 * docker-compose.yml's healthcheck run from the image's WORKDIR. What it does not prove: that the pruned
 * node_modules of the image holds every runtime dependency (the layout links this checkout's, devDependencies
 * included).
 */
describe("the image's runtime stage, laid out from the Dockerfile", () => {
  let target: string;
  let stage: DockerStage;
  let app: string;
  let database: string;
  let ownerUrl: string;
  let runtimeUrl: string;
  let worker: WorkerProcess | undefined;

  const server = <T>(fn: (c: Client) => Promise<T>, url = TEST_SERVER_URL): Promise<T> => {
    const c = new Client({ connectionString: url });
    return c.connect().then(() => fn(c).finally(() => c.end()));
  };

  /** `reopen-admin …` as in a container of the image: the wrapper on PATH, from the WORKDIR, with the image's ENV. */
  const admin = (args: string[], env: Record<string, string>): Promise<Ran> =>
    new Promise((resolve) => {
      execFile(
        join(target, 'usr/local/bin/reopen-admin'),
        args,
        {
          cwd: app,
          env: {
            PATH: [dirname(process.execPath), process.env.PATH].join(delimiter),
            ...stage.env,
            REOPEN_APP_DIR: app,
            ...env,
          },
          timeout: 60_000,
        },
        (err, out, errOut) => resolve({ code: err ? Number(err.code ?? 1) : 0, out, err: errOut }),
      );
    });

  beforeAll(() => {
    requirePostgres();
    ensureFreshBuild();
    target = mkdtempSync(join(tmpdir(), 'reopen-image-'));
    stage = layOutFinalStage(ROOT, readFileSync(join(ROOT, 'Dockerfile'), 'utf8'), target);
    app = join(target, stage.workdir);
    database = `${runDatabasePrefix(runId())}_image_${randomBytes(3).toString('hex')}`;
    ownerUrl = withDatabase(TEST_SERVER_URL, database);
    runtimeUrl = testRuntimeUrl(ownerUrl);
  });
  afterAll(async () => {
    await worker?.kill();
    if (database) await server((c) => c.query(`DROP DATABASE IF EXISTS ${quoteIdent(database)} WITH (FORCE)`));
    if (target) rmSync(target, { recursive: true, force: true });
  });

  it("runs the README's admin sequence with the wrapper: migrate (creating the database), a key, an import", async () => {
    const urls = { OWNER_DATABASE_URL: ownerUrl, DATABASE_URL: runtimeUrl };
    const help = await admin(['--help'], urls);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/^Usage: reopen-admin <command> \[options\]/);
    expect(help.out).not.toContain('npm run');

    const migrated = await admin(['migrate'], urls);
    expect(migrated).toMatchObject({ code: 0, err: '' });
    expect(migrated.out).toContain(`created database ${database}`);
    expect(migrated.out).toMatch(/^applied: InitialSchema\d+, /m);
    expect(migrated.out).toContain(`runtime role ${TEST_RUNTIME_ROLE}:`);

    const key = await admin(['create-api-key', '--role', 'ops', '--name', 'alice'], urls);
    expect(key).toMatchObject({ code: 0, err: '' });
    expect(key.out).toMatch(/^rk_ops_\S+$/m);

    const csv = join(target, 'accounts.csv');
    writeFileSync(
      csv,
      'login,cohorts,leaked,password_changed_at\ndr.a@example.org,health,false,\nb@example.org,general,true,2026-05-02T10:00:00Z\n',
    );
    const imported = await admin(['import-accounts', csv], urls);
    expect(imported).toMatchObject({ code: 0, err: '' });
    expect(imported.out).toContain('imported: 2 new');

    const state = await server(
      async (c) => ({
        keys: (await c.query(`SELECT role, name FROM api_keys`)).rows,
        accounts: (await c.query(`SELECT login, leaked FROM accounts ORDER BY login`)).rows,
      }),
      ownerUrl,
    );
    expect(state).toEqual({
      keys: [{ role: 'ops', name: 'alice' }],
      accounts: [
        { login: 'b@example.org', leaked: true },
        { login: 'dr.a@example.org', leaked: false },
      ],
    });
  });

  it('says in one line, without a stack or a password, when PostgreSQL refuses the owner it was given', async () => {
    const missing = `reopen_missing_${randomBytes(3).toString('hex')}`;
    const refused = await admin(['list-api-keys'], {
      OWNER_DATABASE_URL: withUser(ownerUrl, missing),
      DATABASE_URL: withUser(ownerUrl, TEST_RUNTIME_ROLE, 's3cret-app-password'),
    });
    expect(refused.code).toBe(1);
    expect(refused.out).toBe('');
    const lines = refused.err.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^PostgreSQL refused the login: role "${missing}" does not exist`));
    expect(lines[0]).toContain(`OWNER_DATABASE_URL (migrate, API keys) is postgres://${missing}@`);
    expect(lines[0]).toContain('docker compose run --rm admin <command>');
    expect(lines[0]).not.toContain('s3cret-app-password');

    const closed = await freeLoopbackPort();
    const unreachable = await admin(['migrate'], {
      OWNER_DATABASE_URL: `postgres://reopen@127.0.0.1:${closed}/reopen`,
      DATABASE_URL: `postgres://reopen_app@127.0.0.1:${closed}/reopen`,
    });
    expect(unreachable.code).toBe(1);
    expect(unreachable.err.trimEnd().split('\n')).toEqual([
      expect.stringMatching(new RegExp(`^cannot reach PostgreSQL at 127\\.0\\.0\\.1:${closed}\\. OWNER_DATABASE_URL`)),
    ]);
  });

  it('runs the ops CLI with its wrapper: help, and exit 3 when the API is down', async () => {
    const reopen = (args: string[], env: Record<string, string>): Promise<Ran> =>
      new Promise((resolve) =>
        execFile(
          join(target, 'usr/local/bin/reopen'),
          args,
          {
            cwd: app,
            env: { PATH: [dirname(process.execPath), process.env.PATH].join(delimiter), ...stage.env, ...env },
            timeout: 60_000,
          },
          (err, out, errOut) => resolve({ code: err ? Number(err.code ?? 1) : 0, out, err: errOut }),
        ),
      );
    const env = { REOPEN_APP_DIR: app, HOME: target };
    const help = await reopen(['waves', '--help'], env);
    expect(help).toMatchObject({ code: 0, err: '' });
    expect(help.out).toMatch(/^Usage: reopen waves \[options\] \[command\]/);
    const closed = await freeLoopbackPort();
    const down = await reopen(['waves', 'list'], {
      ...env,
      REOPEN_URL: `http://127.0.0.1:${closed}`,
      REOPEN_API_KEY: 'k',
    });
    expect(down).toMatchObject({ code: 3, out: '' });
    expect(down.err).toMatch(/^cannot reach the API: GET http:\/\/127\.0\.0\.1:\d+\/api\/v1\/waves: ECONNREFUSED/);
  });

  it("starts a worker from the layout that passes docker-compose.yml's healthcheck, run from the WORKDIR", async () => {
    const port = await freeLoopbackPort();
    worker = await WorkerProcess.start(
      {
        ...stage.env,
        DATABASE_URL: runtimeUrl,
        REDIS_URL: TEST_REDIS_URL,
        REDIS_PREFIX: `image-layout-${process.pid}`,
        MAILSTORE_URL: 'http://127.0.0.1:9/v1',
        WORKER_HEALTH_PORT: String(port),
      },
      { script: join(app, 'dist/apps/worker/src/main.js') },
    );
    const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
      services: { worker: { healthcheck: { test: string[] } } };
    };
    const [, , ...args] = compose.services.worker.healthcheck.test;
    const probe = await new Promise<Ran>((resolve) =>
      execFile(
        process.execPath,
        args,
        { cwd: app, env: { ...stage.env, WORKER_HEALTH_PORT: String(port) } },
        (err, out, errOut) => resolve({ code: err ? Number(err.code ?? 1) : 0, out, err: errOut }),
      ),
    );
    expect(probe).toEqual({ code: 0, out: 'worker ready: database up, redis up, queues up\n', err: '' });
  });
});
