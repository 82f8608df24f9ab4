import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { ApiKeyService } from '@app/core';
import {
  builtWorkerPath,
  createEngineHarness,
  EngineHarness,
  pollUntil,
  PrivatePostgres,
  PrivateRedis,
  startPrivatePostgres,
} from '@app/testing';
import { ApiHarness, startApiHarness } from './api-harness';
import { ApiProcess, ensureFreshBuild, startApiProcess } from './api-process';

/** A built worker whose every output line is kept (the outage lines are counted, so none may scroll away). */
function startWorkerProcess(env: Record<string, string>): { child: ChildProcess; lines: string[] } {
  const child = spawn(process.execPath, [builtWorkerPath()], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  createInterface({ input: child.stdout }).on('line', (l) => lines.push(l));
  createInterface({ input: child.stderr }).on('line', (l) => lines.push(l));
  return { child, lines };
}

interface OutageLine {
  dependency: string;
  state: string;
  since: string;
  downForMs?: number;
  error?: string;
}

/** The process's structured lines about one dependency, JSON-parsed (a line that is not JSON is not one of them). */
function outageLines(lines: string[], dependency: string): OutageLine[] {
  return lines.flatMap((l) => {
    try {
      const parsed = JSON.parse(l) as Partial<OutageLine>;
      return parsed.dependency === dependency ? [parsed as OutageLine] : [];
    } catch {
      return [];
    }
  });
}

async function kill(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

const rateLimiterLines = (lines: string[]) => lines.filter((l) => l.includes('rate limiter unavailable'));

interface NotQueuedLine {
  level: number;
  msg: string;
  reason: string;
}

/** The API's line per job its producer refused while Redis was unreachable (the work is the reconciler's then). */
function notQueuedLines(lines: string[]): NotQueuedLine[] {
  return lines.flatMap((l) => {
    try {
      const parsed = JSON.parse(l) as Partial<NotQueuedLine>;
      return / not queued: redis unreachable /.test(parsed.msg ?? '') ? [parsed as NotQueuedLine] : [];
    } catch {
      return [];
    }
  });
}

/** An answer within this long, or the request is aborted and the test fails (a hang, not a slow machine). */
const ANSWER_WITHIN_MS = 5000;

/** Raw client noise: ioredis's unhandled error events and stack frames. */
function noise(lines: string[]): string[] {
  return lines.filter((l) => /Unhandled error event|^\s+at |\n\s+at /.test(l));
}

/**
 * The API and a worker started while their Redis is down (issue 16, finding 8): they stay up, say so in one structured
 * line each (not one raw stack trace per reconnect attempt), readiness names Redis, and when Redis comes up they use
 * it again by themselves: one `recovered` line, ready, and a support operation goes through the queue to the worker.
 */
describe('a Redis outage: one line in, one line out, recovery without a restart', () => {
  let api: ApiHarness;
  let redis: PrivateRedis;
  let worker: { child: ChildProcess; lines: string[] } | undefined;

  beforeAll(async () => {
    redis = await PrivateRedis.reserve(); // nothing listens on its port yet
    // Only the API and the worker use the private Redis; the harness's own helpers keep the shared one.
    api = await startApiHarness('outage', { accounts: 20, env: { REDIS_URL: redis.url } });
    await api.h.importPopulation({ count: 20, seed: 16 });
  });
  afterAll(async () => {
    await kill(worker?.child);
    await api?.close();
    await redis?.stop();
  });

  it('stays up and says once that Redis is unreachable, then recovers when it starts', async () => {
    worker = startWorkerProcess({ ...api.h.env, REDIS_URL: redis.url, RECONCILE_INTERVAL_MS: '500' });
    const procs = { api: api.api.lines, worker: worker.lines };
    const ready = () => fetch(`${api.api.origin}/api/v1/health/ready`);

    await pollUntil(async () => (await ready()).status === 503, { timeoutMs: 10_000, description: 'not ready' });
    await pollUntil(() => worker!.lines.some((l) => l.includes('"worker ready"')), {
      timeoutMs: 20_000,
      description: 'worker ready',
    });
    const down = await ready();
    expect(down.status).toBe(503);
    const body = (await down.json()) as { code: string; checks: Record<string, { status: string }> };
    expect(body.code).toBe('not_ready');
    expect(body.checks.redis.status).toBe('down');
    expect(body.checks.database.status).toBe('up');
    // ioredis retries every 50 ms… 2 s: this window holds several attempts, which must add no line.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect(api.api.child.exitCode).toBeNull();
    expect(worker.child.exitCode).toBeNull();
    expect(noise([...api.api.lines, ...api.api.stderr, ...worker.lines])).toEqual([]);
    expect(worker.lines.filter((l) => /worker error|queue error/.test(l))).toEqual([]);
    // Requests that need only PostgreSQL go on, unthrottled: said once for the outage, not once per request.
    for (let i = 0; i < 3; i++) {
      expect((await api.call('GET', '/accounts/user1@example.test', { key: 'support' })).status).toBe(200);
    }
    // A request that queues work answers at once with its change recorded in PostgreSQL (the API's producer refuses
    // while its connection has never been ready, instead of waiting for it); the reconciler queues it (below).
    const during = await api.call<{ id: string; state: string }>('POST', '/accounts/user5@example.test/disable', {
      key: 'support',
      body: { reason: 'outage test', ticket: 'SUP-16' },
      timeoutMs: ANSWER_WITHIN_MS,
    });
    expect(during.status).toBe(202);
    expect(during.body.state).toBe('queued');
    // The refusal is logged after the answer may have left (the add is tried after the commit): its line comes soon.
    await pollUntil(() => notQueuedLines(api.api.lines).length > 0, {
      timeoutMs: 5000,
      description: 'not queued line',
    });
    const notQueued = notQueuedLines(api.api.lines);
    expect(notQueued).toEqual([
      expect.objectContaining({
        level: 40, // warn: the outage itself is the error line
        msg: expect.stringMatching(
          `^job operation\\.run op-${during.body.id} not queued: redis unreachable \\(connection (re)?connecting\\)$`,
        ),
      }),
    ]);
    expect(Object.keys(notQueued[0]).sort()).toEqual(['app', 'level', 'msg', 'reason', 'time']); // no stack, no error object
    expect(rateLimiterLines(api.api.lines)).toHaveLength(1);
    for (const [name, lines] of Object.entries(procs)) {
      const redisLines = outageLines(lines, 'redis');
      expect({ name, states: redisLines.map((l) => l.state) }).toEqual({ name, states: ['unreachable'] });
      expect(redisLines[0].error).toBe(`ECONNREFUSED 127.0.0.1:${redis.port}`);
      expect(Number.isNaN(Date.parse(redisLines[0].since))).toBe(false);
    }

    await redis.start();
    for (const [name, lines] of Object.entries(procs)) {
      await pollUntil(() => outageLines(lines, 'redis').some((l) => l.state === 'recovered'), {
        timeoutMs: 10_000,
        description: `${name}: redis recovered line`,
      });
    }
    await pollUntil(async () => (await ready()).status === 200, { timeoutMs: 5000, description: 'ready again' });

    // A request that needs Redis end to end: the API queues the operation, the worker runs it.
    const requested = await fetch(`${api.api.origin}/api/v1/accounts/user3@example.test/disable`, {
      method: 'POST',
      headers: { authorization: `Bearer ${api.secrets.support}`, 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'outage test', ticket: 'SUP-16' }),
    });
    expect(requested.status).toBe(202);
    const { id } = (await requested.json()) as { id: string };
    await pollUntil(
      async () =>
        (await api.call<{ state: string }>('GET', `/operations/${id}`, { key: 'support' })).body.state === 'succeeded',
      { timeoutMs: 20_000, description: 'the operation ran on the worker' },
    );
    // The one requested during the outage too, with nobody re-sending it: the reconciler queued it.
    await pollUntil(
      async () =>
        (await api.call<{ state: string }>('GET', `/operations/${during.body.id}`, { key: 'support' })).body.state ===
        'succeeded',
      { timeoutMs: 30_000, description: 'the operation requested during the outage ran on the worker' },
    );

    for (const [name, lines] of Object.entries(procs)) {
      const redisLines = outageLines(lines, 'redis');
      expect({ name, states: redisLines.map((l) => l.state) }).toEqual({
        name,
        states: ['unreachable', 'recovered'],
      });
      expect(redisLines[1].since).toBe(redisLines[0].since);
      expect(redisLines[1].downForMs).toBeGreaterThan(3000);
    }
    expect(noise([...api.api.lines, ...api.api.stderr, ...worker.lines])).toEqual([]);
  });

  it('a second outage, under processes that were connected (workers blocked on their queues), the same way', async () => {
    const procs = { api: api.api.lines, worker: worker!.lines };
    const ready = () => fetch(`${api.api.origin}/api/v1/health/ready`);
    await redis.stop();
    for (const [name, lines] of Object.entries(procs)) {
      await pollUntil(() => outageLines(lines, 'redis').filter((l) => l.state === 'unreachable').length === 2, {
        timeoutMs: 10_000,
        description: `${name}: a second redis unreachable line`,
      });
    }
    expect((await ready()).status).toBe(503);
    expect((await api.call('GET', '/accounts/user1@example.test', { key: 'support' })).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 3000)); // reconnect attempts, which must add no line
    await redis.start();
    for (const [name, lines] of Object.entries(procs)) {
      await pollUntil(() => outageLines(lines, 'redis').filter((l) => l.state === 'recovered').length === 2, {
        timeoutMs: 10_000,
        description: `${name}: a second redis recovered line`,
      });
    }
    await pollUntil(async () => (await ready()).status === 200, { timeoutMs: 5000, description: 'ready again' });
    expect(api.api.child.exitCode).toBeNull();
    expect(worker!.child.exitCode).toBeNull();
    for (const [name, lines] of Object.entries(procs)) {
      const states = outageLines(lines, 'redis').map((l) => l.state);
      expect({ name, states }).toEqual({ name, states: ['unreachable', 'recovered', 'unreachable', 'recovered'] });
    }
    expect(noise([...api.api.lines, ...api.api.stderr, ...worker!.lines])).toEqual([]);
    expect(worker!.lines.filter((l) => /worker error|queue error|failed/.test(l))).toEqual([]);
    expect(rateLimiterLines(api.api.lines)).toHaveLength(2); // one per outage
  });

  it('commands during an outage answer at once, PostgreSQL holds them, and the work goes on when Redis is back', async () => {
    const procs = { api: api.api.lines, worker: worker!.lines };
    const db = api.h.db.dataSource;
    const createWave = async (name: string, logins: string[]) => {
      const created = await api.call<{ id: string }>('POST', '/waves', {
        body: { name, selector: { type: 'logins', logins }, protocols: ['imap', 'pop3'], ratePerSecond: 50 },
      });
      expect(created.status).toBe(201);
      return created.body.id;
    };
    const users = (from: number, to: number) =>
      Array.from({ length: to - from + 1 }, (_, i) => `user${from + i}@example.test`);
    const now = await createWave('outage: started, paused, resumed', users(10, 14));
    const later = await createWave('outage: scheduled', users(15, 19));
    // An account support may open without an override (not leaked, or reset since the incident), in no wave.
    const [open] = await db.query<{ login: string }[]>(
      `SELECT login FROM accounts WHERE login = ANY($1) AND NOT held AND (NOT leaked OR password_changed_at > $2)
        ORDER BY login LIMIT 1`,
      [users(6, 9), api.h.config.INCIDENT_AT],
    );
    expect(open).toBeDefined();
    const refusedBefore = notQueuedLines(api.api.lines).length;

    await redis.stop();
    await pollUntil(() => outageLines(api.api.lines, 'redis').filter((l) => l.state === 'unreachable').length === 3, {
      timeoutMs: 10_000,
      description: 'api: a third redis unreachable line',
    });

    // Each command answers within the bound (the fetch is aborted otherwise), as it does with Redis up.
    const command = async (path: string) => {
      const res = await api.call('POST', `/waves/${path}`, { timeoutMs: ANSWER_WITHIN_MS });
      expect({ path, status: res.status }).toEqual({ path, status: 200 });
      return res.body as unknown;
    };
    expect(await command(`${now}/start`)).toEqual({ id: now, from: 'draft', state: 'running', noop: false });
    expect(await command(`${now}/pause`)).toEqual({ id: now, from: 'running', state: 'paused', noop: false });
    expect(await command(`${now}/resume`)).toEqual({ id: now, from: 'paused', state: 'running', noop: false });
    const startLocal = new Date(Date.now() + 4000).toISOString().slice(0, 19);
    const patched = await api.call('PATCH', `/waves/${later}`, {
      body: { startLocal, timeZone: 'UTC' },
      timeoutMs: ANSWER_WITHIN_MS,
    });
    expect(patched.status).toBe(200);
    expect(await command(`${later}/schedule`)).toEqual({ id: later, from: 'draft', state: 'scheduled', noop: false });
    const enabled = await api.call<{ id: string; state: string }>('POST', `/accounts/${open.login}/enable`, {
      key: 'support',
      body: { reason: 'outage test', ticket: 'SUP-16' },
      timeoutMs: ANSWER_WITHIN_MS,
    });
    expect(enabled.status).toBe(202);
    expect(enabled.body.state).toBe('queued');
    // The scrape answers too, with the waves and without the queue depth it cannot read.
    const metrics = await api.call<string>('GET', '/metrics', { key: 'viewer', timeoutMs: ANSWER_WITHIN_MS });
    expect(metrics.status).toBe(200);
    expect(metrics.body).toContain(`reopen_wave_state{wave_id="${now}"`);
    expect(metrics.body).not.toContain('reopen_queue_jobs{');
    expect(metrics.body).not.toMatch(/^reopen_workers\{/m); // unknown, not a false 0
    // The worker roster lives in Redis: a 503 problem, within the bound, never a 500.
    const roster = await api.call('GET', '/workers', { key: 'viewer', timeoutMs: ANSWER_WITHIN_MS });
    expect({ status: roster.status, code: roster.body.code }).toEqual({ status: 503, code: 'unavailable' });

    // PostgreSQL holds every change, audited; nothing ran (no job reached a worker).
    const wave = async (id: string) =>
      (await db.query<{ state: string }[]>(`SELECT state FROM waves WHERE id = $1`, [id]))[0].state;
    expect(await wave(now)).toBe('running');
    expect(['scheduled', 'running']).toContain(await wave(later)); // the reconciler may have fired it meanwhile
    const audit = await db.query<{ action: string }[]>(
      `SELECT action FROM audit_log WHERE wave_id = $1 AND action IN ('wave.start', 'wave.pause', 'wave.resume') ORDER BY id`,
      [now],
    );
    expect(audit.map((a) => a.action)).toEqual(['wave.start', 'wave.pause', 'wave.resume']);
    const [pending] = await db.query<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM wave_members WHERE wave_id = $1 AND state <> 'pending'`,
      [now],
    );
    expect(pending.n).toBe(0);
    const opState = async () =>
      (await db.query<{ state: string }[]>(`SELECT state FROM operations WHERE id = $1`, [enabled.body.id]))[0].state;
    expect(await opState()).toBe('queued');

    // One line per refused job (start and resume: the first pump; schedule: the delayed start; the enable), no stack;
    // the outage itself is still one line.
    await pollUntil(() => notQueuedLines(api.api.lines).length >= refusedBefore + 4, {
      timeoutMs: 5000,
      description: 'four not queued lines',
    });
    const refused = notQueuedLines(api.api.lines).slice(refusedBefore);
    expect(refused.map((l) => l.msg.split(' ').slice(0, 2).join(' '))).toEqual([
      'job wave.pump',
      'job wave.pump',
      'job wave.start',
      'job operation.run',
    ]);
    expect(outageLines(api.api.lines, 'redis').map((l) => l.state)).toEqual([
      'unreachable',
      'recovered',
      'unreachable',
      'recovered',
      'unreachable',
    ]);
    expect(noise([...api.api.lines, ...api.api.stderr])).toEqual([]);

    // Redis comes back (empty): nobody re-sends anything, the worker's reconciler queues the work from PostgreSQL.
    await redis.start();
    for (const [name, lines] of Object.entries(procs)) {
      await pollUntil(() => outageLines(lines, 'redis').filter((l) => l.state === 'recovered').length === 3, {
        timeoutMs: 10_000,
        description: `${name}: a third redis recovered line`,
      });
    }
    await api.h.untilWaveState(now, 'completed', { timeoutMs: 60_000 });
    await api.h.untilWaveState(later, 'completed', { timeoutMs: 60_000 });
    await pollUntil(async () => (await opState()) === 'succeeded', {
      timeoutMs: 30_000,
      description: 'the enable requested during the outage ran on the worker',
    });
    const [account] = await db.query<{ imap_enabled: boolean; pop3_enabled: boolean }[]>(
      `SELECT imap_enabled, pop3_enabled FROM accounts WHERE login = $1`,
      [open.login],
    );
    expect(account).toEqual({ imap_enabled: true, pop3_enabled: true });

    expect(notQueuedLines(api.api.lines).slice(refusedBefore)).toHaveLength(4); // none since Redis is back
    expect(api.api.lines.filter((l) => /queue error|internal_error/.test(l))).toEqual([]);
    expect(noise([...api.api.lines, ...api.api.stderr, ...worker!.lines])).toEqual([]);
    for (const [name, lines] of Object.entries(procs)) {
      const states = outageLines(lines, 'redis').map((l) => l.state);
      expect({ name, states }).toEqual({
        name,
        states: ['unreachable', 'recovered', 'unreachable', 'recovered', 'unreachable', 'recovered'],
      });
    }
  });
});

/**
 * PostgreSQL stopped under a running API and worker (a private cluster, so the shared server is not disturbed): one
 * `unreachable` line each (the pool itself says nothing, a probe does), readiness names the database, and when the
 * server is back the pool opens new connections by itself: one `recovered` line, ready, requests work again.
 */
describe('a PostgreSQL outage: one line in, one line out, recovery without a restart', () => {
  let pg: PrivatePostgres;
  let h: EngineHarness;
  let api: ApiProcess | undefined;
  let worker: { child: ChildProcess; lines: string[] } | undefined;
  let halted = false;

  beforeAll(async () => {
    ensureFreshBuild();
    pg = await startPrivatePostgres();
    h = await createEngineHarness('pgoutage', { accounts: 20 }, {}, pg.url);
    await h.importPopulation({ count: 20, seed: 17 });
  });
  afterAll(async () => {
    await kill(worker?.child);
    await api?.stop();
    if (halted) pg.resume();
    await h?.close();
    pg?.stop();
  });

  it('stays up and says once that PostgreSQL is unreachable, then recovers when it returns', async () => {
    const support = await new ApiKeyService(h.db.owner).create('support', 'support-pgoutage');
    api = await startApiProcess(h.env);
    worker = startWorkerProcess(h.env);
    await pollUntil(() => worker!.lines.some((l) => l.includes('"worker ready"')), {
      timeoutMs: 20_000,
      description: 'worker ready',
    });
    const procs = { api: api.lines, worker: worker.lines };
    const ready = () => fetch(`${api!.origin}/api/v1/health/ready`);
    expect((await ready()).status).toBe(200);

    pg.halt();
    halted = true;
    for (const [name, lines] of Object.entries(procs)) {
      await pollUntil(() => outageLines(lines, 'postgres').some((l) => l.state === 'unreachable'), {
        timeoutMs: 10_000,
        description: `${name}: postgres unreachable line`,
      });
    }
    const down = await ready();
    expect(down.status).toBe(503);
    const body = (await down.json()) as { code: string; checks: Record<string, { status: string }> };
    expect(body.code).toBe('not_ready');
    expect(body.checks.database.status).toBe('down');
    expect(body.checks.redis.status).toBe('up');
    // Probes every 2 s, gates every second, the reconciler every second: none of them may add a line.
    await new Promise((resolve) => setTimeout(resolve, 4000));
    expect(api.child.exitCode).toBeNull();
    expect(worker.child.exitCode).toBeNull();
    expect(noise([...api.lines, ...api.stderr, ...worker.lines])).toEqual([]);
    expect(worker.lines.filter((l) => /failed/.test(l))).toEqual([]);
    for (const [name, lines] of Object.entries(procs)) {
      const pgLines = outageLines(lines, 'postgres');
      expect({ name, states: pgLines.map((l) => l.state) }).toEqual({ name, states: ['unreachable'] });
      expect(pgLines[0].error).toMatch(/^(ECONNREFUSED 127\.0\.0\.1:\d+|57P01|.*terminat.*)$/);
    }

    pg.resume();
    halted = false;
    for (const [name, lines] of Object.entries(procs)) {
      await pollUntil(() => outageLines(lines, 'postgres').some((l) => l.state === 'recovered'), {
        timeoutMs: 10_000,
        description: `${name}: postgres recovered line`,
      });
    }
    await pollUntil(async () => (await ready()).status === 200, { timeoutMs: 5000, description: 'ready again' });

    // Requests that need PostgreSQL: the key is checked, the operation recorded, queued and run by the worker.
    const requested = await fetch(`${api.origin}/api/v1/accounts/user3@example.test/disable`, {
      method: 'POST',
      headers: { authorization: `Bearer ${support.secret}`, 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'outage test', ticket: 'SUP-16' }),
    });
    expect(requested.status).toBe(202);
    const { id } = (await requested.json()) as { id: string };
    await pollUntil(
      async () =>
        (await h.db.dataSource.query<{ state: string }[]>(`SELECT state FROM operations WHERE id = $1`, [id]))[0]
          ?.state === 'succeeded',
      { timeoutMs: 20_000, description: 'the operation ran on the worker' },
    );

    for (const [name, lines] of Object.entries(procs)) {
      const pgLines = outageLines(lines, 'postgres');
      expect({ name, states: pgLines.map((l) => l.state) }).toEqual({ name, states: ['unreachable', 'recovered'] });
      expect(pgLines[1].downForMs).toBeGreaterThan(4000);
    }
    expect(noise([...api.lines, ...api.stderr, ...worker.lines])).toEqual([]);
  });

  it('refuses to start while PostgreSQL is down, in one line that names it (no stack)', async () => {
    pg.halt();
    halted = true;
    const said =
      /failed to start: postgres unreachable \(ECONNREFUSED 127\.0\.0\.1:\d+\): is it running, and is DATABASE_URL right\?$/m;
    const refused = await startApiProcess(h.env).then(
      () => 'started',
      (err: Error) => err.message,
    );
    expect(refused).toMatch(said);
    expect(refused).not.toMatch(/^\s+at /m);
    const w = startWorkerProcess(h.env);
    const [code] = (await once(w.child, 'close')) as [number]; // 'close': its output is all read
    expect(code).toBe(1);
    expect(w.lines).toHaveLength(1);
    expect(w.lines[0]).toMatch(said);
  });
});

/**
 * The mailstore is the provider's, not the process's (issue 21): its outage pauses waves, but readiness stays 200 so
 * that, under Kubernetes, every API pod stays in service with the status page and its Pause and Roll back buttons. Its
 * health is reported apart: GET /health/dependencies and the `reopen_api_dependency_up` gauge.
 */
describe('a mailstore outage: ready stays 200, the dependencies report says it is down', () => {
  let api: ApiHarness;

  beforeAll(async () => {
    // A worker runs (in process), so every other dependency is up: the report's status follows the mailstore alone.
    api = await startApiHarness('mailstoredown', { accounts: 5, worker: true });
  });
  afterAll(async () => {
    await api?.close();
  });

  const dependencies = () =>
    api.call<{ status: string; dependencies: Record<string, { status: string; neededForReady: boolean }> }>(
      'GET',
      '/health/dependencies',
      { key: null },
    );
  const upGauge = async () => {
    const text = (await api.call('GET', '/metrics', { key: 'viewer' })).text;
    return /^reopen_api_dependency_up\{dependency="mailstore"\} (\d)$/m.exec(text)?.[1];
  };

  it('stays ready while the mailstore is unreachable, and reports it down, then up again', async () => {
    expect((await dependencies()).body.status).toBe('ok');
    expect(await upGauge()).toBe('1');

    api.h.sim.setFaults({ unreachable: true }); // every /v1 request's connection destroyed, unanswered
    const down = await pollUntil(
      async () => {
        const d = await dependencies();
        return d.body.dependencies.mailstore.status === 'down' && d;
      },
      { timeoutMs: 10_000, description: 'the mailstore reported down' },
    );
    expect(down.status).toBe(200);
    expect(down.body).toMatchObject({
      status: 'degraded',
      dependencies: {
        database: { status: 'up', neededForReady: true },
        redis: { status: 'up', neededForReady: true },
        mailstore: { status: 'down', neededForReady: false, message: expect.any(String) },
      },
    });
    const ready = await api.call('GET', '/health/ready', { key: null });
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({ status: 'ok', error: {} });
    expect(Object.keys(ready.body.details).sort()).toEqual(['database', 'redis']); // the mailstore is not asked
    expect(await upGauge()).toBe('0');

    api.h.sim.setFaults({});
    await pollUntil(async () => (await dependencies()).body.status === 'ok', {
      timeoutMs: 10_000,
      description: 'the mailstore reported up again',
    });
    expect(await upGauge()).toBe('1');
  });
});
