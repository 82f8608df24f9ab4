import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createEngineHarness, EngineHarness, freeLoopbackPort, pollUntil, WorkerProcess } from '@app/testing';
import { ensureFreshBuild } from './api-process';
import { sample } from './prometheus-text';

const VERSION = (JSON.parse(readFileSync(join(__dirname, '../../package.json'), 'utf8')) as { version: string })
  .version;
/** The checkout's commit, as the build-info metric reads it without BUILD_COMMIT. */
const COMMIT = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: join(__dirname, '../..') })
  .toString()
  .trim();

/**
 * The worker's own /metrics (issue 17), on its health listener, scraped from a real worker process while it runs a
 * small wave whose first two batch calls the mailstore answers 429: what it counts agrees with the simulator's call
 * log, PostgreSQL's batches and Redis's pace.
 */
describe("the worker's /metrics, scraped during a small wave", () => {
  let h: EngineHarness;
  let worker: WorkerProcess | undefined;
  let port: number;
  const scrape = async () => {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    return res.text();
  };

  beforeAll(async () => {
    ensureFreshBuild();
    h = await createEngineHarness('workermetrics', { accounts: 300 });
    await h.importPopulation({ count: 300, seed: 17, leakedShare: 0 });
    port = await freeLoopbackPort();
    worker = await WorkerProcess.start({
      ...h.env,
      WORKER_HEALTH_PORT: String(port),
      // The pace barely recovers, so what the 429s cost is still there to read when the wave ends.
      PACE_RECOVERY_STEP: '0.001',
      GATE_INTERVAL_MS: '200',
    });
  });
  afterAll(async () => {
    await worker?.kill();
    await h?.close();
  });

  it('serves the build and, before any work, no batch', async () => {
    const idle = await scrape();
    const build = { process: 'worker', version: VERSION, commit: COMMIT, node: process.version };
    expect(sample(idle, 'reopen_build_info', build)).toBe(1);
    expect(sample(idle, 'reopen_worker_batches_in_flight', { kind: 'forward' })).toBe(0);
    expect(sample(idle, 'reopen_worker_batches_sent_total', { kind: 'forward', outcome: 'ok' })).toBeUndefined();
    expect(sample(idle, 'reopen_worker_pace_factor')).toBe(1); // Redis holds no pace yet: full
    expect(sample(idle, 'reopen_worker_process_resident_memory_bytes')).toBeGreaterThan(0);
  });

  it('counts batches sent and settled by outcome, the Retry-After waits, the pace they cost and its rounds', async () => {
    // The mailstore answers the first two batch calls 429 with Retry-After: 1. One pump sends them one after the other,
    // so each is its own Retry-After episode: the shared pace halves twice.
    h.sim.setFaults({ script: ['429', '429'], retryAfterSeconds: 1, endpoints: ['batch'] });
    const logins = Array.from({ length: 300 }, (_, i) => `user${i + 1}@example.test`);
    const wave = await h.commands.create(
      {
        name: 'metrics',
        selector: { type: 'logins', logins },
        protocols: ['imap'],
        ratePerSecond: 1000,
        batchSize: 20,
        concurrency: 1,
      },
      'ops:test',
    );
    await h.commands.start(wave.id, 'ops:test');

    // During the wave: both waits are counted once the second 429 came back, and the pace shows them.
    const during = await pollUntil(
      async () => {
        const text = await scrape();
        return sample(text, 'reopen_worker_retry_after_seconds_count', { source: 'wave' }) === 2 && text;
      },
      { timeoutMs: 15_000, description: 'two Retry-After waits counted' },
    );
    expect(sample(during, 'reopen_worker_retry_after_seconds_sum', { source: 'wave' })).toBe(2);
    expect(sample(during, 'reopen_worker_pace_factor')).toBeLessThan(0.3);
    await h.untilWaveState(wave.id, 'completed');

    // The last pump completes the wave before its job returns: scrape once that job is counted.
    const after = await pollUntil(
      async () => {
        const text = await scrape();
        return (sample(text, 'reopen_worker_jobs_total', { job: 'wave.pump', outcome: 'drained' }) ?? 0) > 0 && text;
      },
      { timeoutMs: 10_000, description: 'the drained pump job counted' },
    );
    const calls = h.sim.calls().filter((c) => c.endpoint === 'batch' && c.idempotencyKey?.includes(wave.id));
    const sent = (outcome: string) => sample(after, 'reopen_worker_batches_sent_total', { kind: 'forward', outcome });
    expect(sent('rate_limited')).toBe(2);
    expect(sent('ok')).toBe(calls.filter((c) => c.status === 200).length);
    expect(sent('ok')).toBeGreaterThan(0);
    expect(calls.length).toBe(sent('ok')! + 2);

    const settled = (outcome: string) =>
      sample(after, 'reopen_worker_batches_settled_total', { kind: 'forward', outcome }) ?? 0;
    expect(settled('applied')).toBe(sent('ok'));
    const [done] = await h.db.dataSource.query<{ n: string }[]>(
      `SELECT count(*) AS n FROM wave_batches WHERE wave_id = $1 AND state = 'done'`,
      [wave.id],
    );
    expect(settled('applied') + settled('refused') + settled('nothing_to_send')).toBe(Number(done.n));
    expect(settled('lost') + settled('paused')).toBe(0);

    // The pace as Redis holds it: halved twice, and 0.001 back per success at most.
    const factor = sample(after, 'reopen_worker_pace_factor')!;
    expect(factor).toBeGreaterThanOrEqual(0.25);
    expect(factor).toBeLessThan(0.25 + 0.001 * (sent('ok')! + 1));
    expect(factor).toBe(Number(await h.redis.client.hget(`${h.redis.prefix}:throttle:mailstore`, 'factor')));
    expect(sample(after, 'reopen_worker_pace_blocked_seconds')).toBe(0);

    // Its mailstore calls, as it made them: every row it logged in mailstore_calls, once (issue 21: the API no longer
    // rebuilds them from the table). One worker here, so its counts are the whole log.
    const [log] = await h.db.dataSource.query<{ calls: string; limited: string; items: string }[]>(
      `SELECT count(*) AS calls, count(*) FILTER (WHERE outcome = 'rate_limited') AS limited, sum(items) AS items
         FROM mailstore_calls WHERE wave_id = $1`,
      [wave.id],
    );
    const calls429 = sample(after, 'reopen_mailstore_call_duration_seconds_count', {
      source: 'wave',
      outcome: 'rate_limited',
    });
    const callsOk = sample(after, 'reopen_mailstore_call_duration_seconds_count', { source: 'wave', outcome: 'ok' });
    expect(calls429).toBe(Number(log.limited));
    expect(callsOk! + calls429!).toBe(Number(log.calls));
    expect(sample(after, 'reopen_mailstore_call_items_total', { source: 'wave', result: 'sent' })).toBe(
      Number(log.items),
    );
    expect(sample(after, 'reopen_worker_batches_in_flight', { kind: 'forward' })).toBe(0);

    expect(sample(after, 'reopen_worker_jobs_total', { job: 'wave.pump', outcome: 'drained' })).toBeGreaterThan(0);
    for (const round of ['reconcile', 'gate']) {
      expect(sample(after, 'reopen_worker_round_duration_seconds_count', { round, result: 'ok' })).toBeGreaterThan(0);
      expect(sample(after, 'reopen_worker_round_duration_seconds_count', { round, result: 'failed' })).toBeUndefined();
    }
  });
});
