import { once } from 'node:events';
import { createServer } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { populationLogin } from '@app/domain';
import { CliRun, pollUntil, runReopen } from '@app/testing';
import { ApiHarness, startApiHarness } from './api-harness';

/**
 * The `reopen` CLI as the incident lead meets it at 3 am, beyond the happy paths of reopen-cli.e2e-spec.ts: output
 * piped to a reader that leaves early, a URL that serves a web page, a typo in --timeout, a wave crawling below
 * 1/s, an account whose wave was rolled back. The built binary against the built API, a worker, the simulator,
 * PostgreSQL and Redis.
 */
const ACCOUNTS = 200;

describe('reopen CLI: what an operator meets at 3 am (built binary, real stack)', () => {
  let api: ApiHarness;
  let home: string;

  beforeAll(async () => {
    api = await startApiHarness('reopen-cli-operator', {
      accounts: ACCOUNTS,
      worker: true,
      env: { API_SSE_INTERVAL_MS: '200' },
    });
    await api.h.importPopulation({ count: ACCOUNTS, seed: 11, leakedShare: 0 });
    home = mkdtempSync(join(tmpdir(), 'reopen-cli-operator-'));
  });
  afterAll(async () => {
    await api?.close();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  /** Runs the binary as ops, with this test's HOME. */
  function reopen(args: string[], o: { env?: Record<string, string>; closeStdout?: boolean } = {}): Promise<CliRun> {
    const env = {
      PATH: process.env.PATH ?? '',
      HOME: home,
      REOPEN_URL: api.api.origin,
      REOPEN_API_KEY: api.secrets.ops,
      ...o.env,
    };
    return runReopen(args, { closeStdout: o.closeStdout, env });
  }

  /** A draft wave over users from..to, created through the CLI from a YAML plan. */
  async function create(name: string, from: number, to: number, rate: number): Promise<string> {
    const file = join(home, `${name}.yaml`);
    const logins = Array.from({ length: to - from + 1 }, (_, i) => `    - ${populationLogin(from + i)}\n`).join('');
    writeFileSync(
      file,
      `name: ${name}\nselector:\n  type: logins\n  logins:\n${logins}protocols: [imap, pop3]\n` +
        `ratePerSecond: ${rate}\nbatchSize: 1\n`,
    );
    const created = await reopen(['--json', 'waves', 'create', '-f', file]);
    expect(created).toMatchObject({ code: 0, stderr: '' });
    return (JSON.parse(created.stdout) as { id: string }).id;
  }

  async function state(id: string): Promise<string> {
    const [row] = await api.h.db.dataSource.query<{ state: string }[]>(`SELECT state FROM waves WHERE id = $1`, [id]);
    return row.state;
  }

  it('a reader that leaves early: no stack trace, `pause --all` still pauses every wave, `watch` stops', async () => {
    const a = await create('pipe-a', 1, 40, 1);
    const b = await create('pipe-b', 41, 80, 1);
    for (const id of [a, b]) expect((await reopen(['waves', 'start', id])).code).toBe(0);

    const listed = await reopen(['waves', 'list'], { closeStdout: true });
    expect(listed).toMatchObject({ code: 0, stderr: '' });

    // The emergency stop piped to `head -1`: its first line closed the pipe; the second wave must be paused too.
    const paused = await reopen(['waves', 'pause', '--all'], { closeStdout: true });
    expect(paused).toMatchObject({ code: 0, stderr: '' });
    expect([await state(a), await state(b)]).toEqual(['paused', 'paused']);

    // --json: who was paused and the pause's answer, not the listed wave's fields (its `state: "running"`).
    expect((await reopen(['waves', 'resume', a])).code).toBe(0);
    const json = await reopen(['--json', 'waves', 'pause', '--all']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({
      paused: [{ id: a, name: 'pipe-a', result: { id: a, from: 'running', state: 'paused', noop: false } }],
      stillRunning: [],
    });

    // Watching a running wave for nobody: it ends instead of following the wave unseen until it finishes.
    expect((await reopen(['waves', 'resume', a])).code).toBe(0);
    const started = Date.now();
    const watched = await reopen(['waves', 'watch', a], { closeStdout: true });
    expect(watched).toMatchObject({ code: 0, stderr: '' });
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(await state(a)).toBe('running');
    expect((await reopen(['waves', 'cancel', a])).code).toBe(0);
    expect((await reopen(['waves', 'cancel', b])).code).toBe(0);
  });

  it('a URL that serves a web page, not the API: exit 3 naming what answered and where the URL came from', async () => {
    const page = createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end('<html><body>Sign in to the corporate proxy</body></html>');
    });
    page.listen(0, '127.0.0.1');
    await once(page, 'listening');
    const origin = `http://127.0.0.1:${(page.address() as { port: number }).port}`;
    try {
      const run = await reopen(['waves', 'list'], { env: { REOPEN_URL: origin } });
      expect(run.code).toBe(3);
      expect(run.stderr).toContain(`cannot reach the API: GET ${origin}/api/v1/waves: answered 200 with text/html`);
      expect(run.stderr).toContain(`the URL ${origin} comes from REOPEN_URL: is the API up, and is this its address?`);
      expect(run.stderr).not.toMatch(/SyntaxError|at .*\.js:\d+/);
    } finally {
      page.close();
    }
  });

  it('--timeout 0 is bad usage (exit 1), not an unreachable API (exit 3)', async () => {
    expect(await reopen(['--timeout', '0', 'workers'])).toMatchObject({
      code: 1,
      stdout: '',
      stderr: expect.stringContaining("option '--timeout <seconds>' argument '0' is invalid. not a positive number"),
    });
  });

  it('a rate below 1/s as set; an account whose wave was rolled back says it was restored', async () => {
    const id = await create('rolled', 101, 103, 50);
    const setRate = await reopen(['waves', 'set-rate', id, '0.5']);
    expect(setRate.code).toBe(0);
    expect(setRate.stdout).toMatch(/^rate {6}0\.5\/s, batches of 1/m);
    expect((await reopen(['waves', 'list'])).stdout).toMatch(new RegExp(`^${id} +rolled +draft +0\\.5/s `, 'm'));

    expect((await reopen(['waves', 'set-rate', id, '50'])).code).toBe(0);
    expect((await reopen(['waves', 'start', id])).code).toBe(0);
    await pollUntil(async () => ((await state(id)) === 'completed' ? true : undefined), {
      timeoutMs: 30_000,
      description: 'the wave completed',
    });
    expect((await reopen(['waves', 'rollback', id])).code).toBe(0);
    expect((await reopen(['waves', 'watch', id])).code).toBe(5);

    const shown = await reopen(['accounts', 'show', populationLogin(101)], {
      env: { REOPEN_API_KEY: api.secrets.support },
    });
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/^access\s+imap closed, pop3 closed$/m);
    expect(shown.stdout).toMatch(
      /^wave {9}rolled \(rolled_back\): enabled, then rollback: restored to its prior state$/m,
    );
  });
});
