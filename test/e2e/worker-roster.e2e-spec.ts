import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { pollUntil, runReopen, WorkerProcess } from '@app/testing';
import { ApiHarness, startApiHarness } from './api-harness';

const VERSION = (JSON.parse(readFileSync(join(__dirname, '../../package.json'), 'utf8')) as { version: string })
  .version;

interface Sighting {
  id: string;
  alive: boolean;
  version: string;
  commit: string;
  hostname: string;
  pid: number;
  driver: string;
  startedAt: string;
  lastSeenAt: string;
  leftAt?: string;
}
interface Roster {
  alive: number;
  api: { version: string; commit: string };
  workers: Sighting[];
}

/**
 * Whether a worker runs, as the API sees it (the night before a wave, a scheduled start that no worker fires was seen
 * by nobody): GET /workers, the `workers` dependency of GET /health/dependencies (never readiness), the
 * `reopen_workers` gauge, and `reopen_wave_scheduled_start_timestamp_seconds` of a wave whose start is overdue.
 * The worker is the built process, frozen with SIGSTOP and stopped with SIGTERM.
 */
describe('the worker roster', () => {
  let api: ApiHarness;
  let worker: WorkerProcess | undefined;

  beforeAll(async () => {
    api = await startApiHarness('roster', { accounts: 5 });
    await api.h.importPopulation({ count: 20, seed: 4 });
  });
  afterAll(async () => {
    await worker?.kill();
    await api?.close();
  });

  const roster = async () => {
    const res = await api.call<Roster>('GET', '/workers', { key: 'viewer' });
    expect(res.status).toBe(200);
    return res.body;
  };
  const workersDependency = async () =>
    (
      await api.call<{ status: string; dependencies: { workers: Record<string, unknown> } }>(
        'GET',
        '/health/dependencies',
        { key: null },
      )
    ).body;
  const metrics = async () => (await api.call('GET', '/metrics', { key: 'viewer' })).text;
  const gauge = (text: string, series: string) => {
    const line = text.split('\n').find((l) => l.startsWith(`${series} `));
    return line === undefined ? undefined : Number(line.slice(series.length + 1));
  };

  /** `reopen …` as an operator runs it, with an ops key. */
  const reopen = (...args: string[]) =>
    runReopen(args, {
      env: { PATH: process.env.PATH ?? '', REOPEN_URL: api.api.origin, REOPEN_API_KEY: api.secrets.ops },
    });
  const preflight = (...args: string[]) => reopen('preflight', ...args);

  let waveId: string;
  let startAt: Date;

  it('with no worker: none alive, the workers dependency down (readiness unaffected), the gauge at 0', async () => {
    expect(await roster()).toEqual({ alive: 0, api: { version: VERSION, commit: expect.any(String) }, workers: [] });
    expect(await workersDependency()).toMatchObject({
      status: 'degraded',
      dependencies: {
        workers: { status: 'down', neededForReady: false, message: 'no worker has reported in the last 15 s' },
      },
    });
    expect((await api.call('GET', '/health/ready', { key: null })).status).toBe(200);
    const text = await metrics();
    expect(['alive', 'stopped', 'lost'].map((st) => gauge(text, `reopen_workers{state="${st}"}`))).toEqual([0, 0, 0]);
    expect(gauge(text, 'reopen_api_dependency_up{dependency="workers"}')).toBe(0);
  });

  it('a scheduled wave whose start passed stays scheduled, and its start time is exported', async () => {
    const startLocal = new Date(Date.now() + 2000).toISOString().slice(0, 19);
    const created = await api.call<{ id: string; startAt: string }>('POST', '/waves', {
      body: {
        name: 'overdue',
        selector: { type: 'cohorts', cohorts: ['general'] },
        protocols: ['imap'],
        ratePerSecond: 50,
        startLocal,
        timeZone: 'UTC',
      },
    });
    expect(created.status).toBe(201);
    waveId = created.body.id;
    startAt = new Date(created.body.startAt);
    expect((await api.call('POST', `/waves/${waveId}/schedule`)).status).toBe(200);
    await new Promise((r) => setTimeout(r, Math.max(0, startAt.getTime() - Date.now()) + 1500));
    expect((await api.call<{ state: string }>('GET', `/waves/${waveId}`)).body.state).toBe('scheduled');
    const series = `reopen_wave_scheduled_start_timestamp_seconds{wave_id="${waveId}",wave="overdue"}`;
    expect(gauge(await metrics(), series)).toBe(startAt.getTime() / 1000);
  });

  it('reopen preflight says NO-GO (exit 7): no worker, and the wave still scheduled after its start', async () => {
    const run = await preflight();
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 7, stderr: '' });
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines).toEqual(
      expect.arrayContaining([
        'ok    database: PostgreSQL answers',
        'ok    redis: Redis answers',
        'ok    mailstore: the mailstore (the configured driver) answers',
        'FAIL  workers: no worker is running: no wave moves, no scheduled start fires',
        expect.stringMatching(
          new RegExp(
            `^FAIL  wave "overdue" \\(${waveId}\\): still scheduled \\d+ min after its start .*is a worker running\\?$`,
          ),
        ),
        `warn  wave "overdue" (${waveId}): no gate: nothing halts it by itself (docs/gates.md)`,
        'warn  notifications: no subscription: nobody is told when a wave halts (docs/notifications.md)',
      ]),
    );
    expect(lines.at(-1)).toBe('NO-GO: 2 failed check(s), 2 warning(s)');
    const json = await preflight('--json');
    expect(json.code).toBe(7);
    expect(JSON.parse(json.stdout)).toMatchObject({ go: false });
  });

  it('a worker that starts is listed alive with its build, host and pid, and fires the overdue start', async () => {
    const before = Date.now();
    worker = await WorkerProcess.start(api.h.env);
    const seen = await pollUntil(
      async () => {
        const r = await roster();
        return r.alive === 1 ? r : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 250, description: 'the worker listed alive' },
    );
    expect(seen.workers).toEqual([
      {
        id: expect.stringMatching(new RegExp(`^${hostname()}/${worker.pid}/[0-9a-f]{6}$`)),
        alive: true,
        version: VERSION,
        commit: seen.api.commit,
        hostname: hostname(),
        pid: worker.pid,
        driver: 'http',
        startedAt: expect.any(String),
        lastSeenAt: expect.any(String),
      },
    ]);
    const [w] = seen.workers;
    expect(Date.parse(w.startedAt)).toBeGreaterThanOrEqual(before - 1000);
    expect(Date.parse(w.lastSeenAt)).toBeGreaterThanOrEqual(Date.parse(w.startedAt) - 1000);
    // The dependency is cached for 1 s (the preflight above may have read it down just before the worker started).
    const dependency = await pollUntil(
      async () => {
        const d = (await workersDependency()).dependencies.workers;
        return d.status === 'up' ? d : undefined;
      },
      { timeoutMs: 5000, intervalMs: 250, description: 'the workers dependency up' },
    );
    expect(dependency).toEqual({ status: 'up', neededForReady: false });
    const listed = await reopen('workers');
    expect({ code: listed.code, stderr: listed.stderr }).toEqual({ code: 0, stderr: '' });
    expect(listed.stdout.split('\n').slice(0, 3)).toEqual([
      `1 alive; the API runs ${VERSION} (${seen.api.commit})`,
      expect.stringMatching(/^ID +STATE +BUILD +DRIVER +STARTED \(UTC\) +LAST REPORT \(UTC\)$/),
      expect.stringMatching(new RegExp(`^${w.id} +alive +${VERSION} \\(${seen.api.commit}\\) +http `)),
    ]);
    expect(gauge(await metrics(), 'reopen_workers{state="alive"}')).toBe(1);

    await pollUntil(
      async () => (await api.call<{ state: string }>('GET', `/waves/${waveId}`)).body.state !== 'scheduled',
      { timeoutMs: 15_000, intervalMs: 250, description: 'the overdue start fired' },
    );
    expect(await metrics()).not.toContain(`reopen_wave_scheduled_start_timestamp_seconds{wave_id="${waveId}"`);

    // Now GO (exit 0): the worker runs, the named wave ran (its state only), one warning left to read.
    await pollUntil(
      async () => (await api.call<{ state: string }>('GET', `/waves/${waveId}`)).body.state === 'completed',
      { timeoutMs: 15_000, intervalMs: 250, description: 'the wave completed' },
    );
    const run = await preflight('--wave', waveId);
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    expect(run.stdout).toContain('ok    workers: 1 alive\n');
    expect(run.stdout).toContain(`ok    wave "overdue" (${waveId}): is completed\n`);
    expect(run.stdout.trimEnd().split('\n').at(-1)).toBe('GO with 1 warning(s) to read');
  });

  it('a frozen worker stops counting within 15 s of its last report, and counts again once it runs', async () => {
    worker!.freeze();
    const frozenAt = Date.now();
    try {
      await expectCountedOut(frozenAt);
    } finally {
      worker!.thaw();
    }
    await pollUntil(async () => (await roster()).alive === 1, {
      timeoutMs: 10_000,
      intervalMs: 250,
      description: 'alive again',
    });
  });

  const expectCountedOut = async (frozenAt: number) => {
    const gone = await pollUntil(
      async () => {
        const r = await roster();
        return r.alive === 0 ? r : undefined;
      },
      { timeoutMs: 25_000, intervalMs: 500, description: 'the frozen worker no longer alive' },
    );
    // It reports every 5 s: between 10 and 15 s after its last report once frozen (plus a poll).
    expect(Date.now() - frozenAt).toBeLessThanOrEqual(16_500);
    expect(gone.workers).toEqual([expect.objectContaining({ pid: worker!.pid, alive: false })]);
    expect(gone.workers[0].leftAt).toBeUndefined();
    expect(gauge(await metrics(), 'reopen_workers{state="lost"}')).toBe(1);
  };

  it('a worker stopped with SIGTERM says so: listed as left, no longer alive', async () => {
    const code = await worker!.terminate();
    expect(code).toBe(0);
    const after = await roster();
    expect(after.alive).toBe(0);
    expect(after.workers).toEqual([
      expect.objectContaining({ pid: worker!.pid, alive: false, leftAt: expect.any(String) }),
    ]);
    const text = await metrics();
    expect(['alive', 'stopped', 'lost'].map((st) => gauge(text, `reopen_workers{state="${st}"}`))).toEqual([0, 1, 0]);
  });

  it('preflight warns of a gate whose input is missing (GET /waves/{id}/gate-check), and not once it arrives', async () => {
    const startLocal = new Date(Date.now() + 3_600_000).toISOString().slice(0, 19);
    const created = await api.call<{ id: string }>('POST', '/waves', {
      body: {
        name: 'gated',
        selector: { type: 'cohorts', cohorts: ['general'] },
        protocols: ['imap'],
        ratePerSecond: 50,
        startLocal,
        timeZone: 'UTC',
        gates: [
          {
            name: 'feed',
            metric: 'signal',
            signal: 'failed_logins_per_minute',
            windowSeconds: 60,
            minSamples: 1,
            threshold: 100,
            action: 'halt',
          },
        ],
      },
    });
    expect(created.status).toBe(201);
    const id = created.body.id;
    const check = await api.call('GET', `/waves/${id}/gate-check`, { key: 'viewer' });
    expect(check.status).toBe(200);
    expect(check.body).toMatchObject({
      waveId: id,
      gates: [{ gate: 'feed', status: 'inconclusive', action: 'halt', threshold: 100 }],
    });
    const warned = await preflight('--wave', id);
    expect(warned.stdout).toMatch(
      new RegExp(
        `^warn  wave "gated" \\(${id}\\): gate feed is inconclusive now \\(a running wave pauses on it\\): .+$`,
        'm',
      ),
    );

    const sent = await api.call('POST', '/signals', {
      key: 'signals',
      body: { name: 'failed_logins_per_minute', value: 3, windowSeconds: 60, observedAt: new Date().toISOString() },
    });
    expect(sent.status).toBeLessThan(300);
    expect((await api.call('GET', `/waves/${id}/gate-check`, { key: 'viewer' })).body.gates).toEqual([
      expect.objectContaining({ gate: 'feed', status: 'ok', value: 3 }),
    ]);
    expect((await preflight('--wave', id)).stdout).not.toContain('gate feed');
    expect((await api.call('GET', `/waves/${randomUUID()}/gate-check`, { key: 'viewer' })).status).toBe(404);
  });

  it('is behind a key: none is 401, a signals key 403', async () => {
    expect((await api.call('GET', '/workers', { key: null })).status).toBe(401);
    expect((await api.call('GET', '/workers', { key: 'signals' })).status).toBe(403);
  });
});
