import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPassdbDatabase, dovecotSqlEnv, loginRange, WorkerProcess } from '@app/testing';
import { ApiHarness, startApiHarness } from './api-harness';
import { OtlpReceiver, ReceivedSpan } from './otlp-receiver';

const SERVER = 2;
const CLIENT = 3;
const PRODUCER = 4;
const CONSUMER = 5;

/**
 * Tracing (issue 21): one wave start, traced from the API's request through the BullMQ job to the worker's batch
 * calls to the mailstore, exported over OTLP/HTTP to a local receiver by the real API and worker processes; and with
 * tracing off (the default environment, or OTEL_TRACES_EXPORTER=none beside an endpoint), the SDK is never loaded and
 * nothing is sent.
 */
describe('traces from a wave start to the mailstore', () => {
  let api: ApiHarness;
  let receiver: OtlpReceiver;
  const probeDir = mkdtempSync(join(tmpdir(), 'otel-probe-'));
  // Preloaded into every process: at exit, it writes which @opentelemetry modules the process had loaded.
  const probe = join(probeDir, 'probe.js');
  writeFileSync(
    probe,
    `process.on('exit', () => require('fs').writeFileSync(require('path').join(${JSON.stringify(probeDir)}, ` +
      `process.env.PROBE_LABEL + '-' + process.pid + '.json'), JSON.stringify(Object.keys(require.cache)` +
      `.filter((k) => k.includes('@opentelemetry/')).map((k) => k.split('@opentelemetry/')[1].split('/')[0]))));\n`,
  );
  const loaded = (label: string): string[][] =>
    readdirSync(probeDir)
      .filter((f) => f.startsWith(`${label}-`))
      .map((f) => [...new Set(JSON.parse(readFileSync(join(probeDir, f), 'utf8')) as string[])].sort());
  const probeEnv = (label: string) => ({ NODE_OPTIONS: `--require ${probe}`, PROBE_LABEL: label });

  beforeAll(async () => {
    receiver = await OtlpReceiver.start();
    api = await startApiHarness('tracing', {
      accounts: 100,
      env: probeEnv('off'),
      // Pumps come from the start command alone (the reconciler's first round runs before any wave exists).
      engineEnv: { RECONCILE_INTERVAL_MS: '600000' },
    });
    await api.h.importPopulation({ count: 100, seed: 21, leakedShare: 0 });
  });
  afterAll(async () => {
    await api?.close();
    await receiver?.close();
    rmSync(probeDir, { recursive: true, force: true });
  });

  const runWave = async (name: string, logins: string[], origin: string, headers: Record<string, string> = {}) => {
    const created = await api.call<{ id: string }>('POST', '/waves', {
      origin,
      body: {
        name,
        selector: { type: 'logins', logins },
        protocols: ['imap'],
        ratePerSecond: 500,
        batchSize: 10,
        concurrency: 1,
      },
    });
    expect(created.status).toBe(201);
    const started = await api.call('POST', `/waves/${created.body.id}/start`, { origin, headers });
    expect(started.status).toBe(200);
    await api.h.untilWaveState(created.body.id, 'completed', { timeoutMs: 60_000 });
    return { id: created.body.id, requestId: started.headers.get('x-request-id') };
  };

  it('is off by default or when switched off: no SDK loaded, nothing sent, the wave runs as ever', async () => {
    // The API with no OTEL_* variable at all; the worker pointed at the receiver but with the exporter `none`.
    const worker = await WorkerProcess.start({
      ...api.h.env,
      ...probeEnv('off'),
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_TRACES_EXPORTER: 'none',
    });
    try {
      const wave = await runWave('untraced', loginRange(1, 30), api.api.origin);
      expect(api.h.batchCalls(wave.id).length).toBe(3);
    } finally {
      expect(await worker.terminate()).toBe(0);
      await api.api.stop();
    }
    const processes = loaded('off');
    expect(processes).toHaveLength(2); // the API and the worker
    // Only the API facade (@opentelemetry/api, a no-op without an SDK): no SDK, exporter or context manager.
    for (const modules of processes) expect(modules.filter((m) => m !== 'api')).toEqual([]);
    expect(receiver.requests).toBe(0);
  });

  it('exports one trace per command: API request → queued job → worker job → batch → mailstore call', async () => {
    const otel = {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_BSP_SCHEDULE_DELAY: '100',
      ...probeEnv('on'),
    };
    const traced = await api.startAnotherApi(otel);
    const worker = await WorkerProcess.start({ ...api.h.env, ...otel });
    // The caller's own trace context (a dashboard or a proxy may send one): the API continues it.
    const traceId = randomBytes(16).toString('hex');
    const callerSpan = randomBytes(8).toString('hex');
    let wave: { id: string; requestId: string | null };
    try {
      wave = await runWave('traced', loginRange(31, 60), traced.origin, {
        traceparent: `00-${traceId}-${callerSpan}-01`,
      });
    } finally {
      // Stopping flushes what each process still buffers.
      expect(await worker.terminate()).toBe(0);
      await traced.stop();
    }
    expect(receiver.refused).toEqual([]);
    expect(loaded('on').every((m) => m.includes('sdk-trace-node') && m.includes('exporter-trace-otlp-http'))).toBe(
      true,
    );

    const spans = receiver.spans.filter((s) => s.traceId === traceId);
    const one = (what: string, pick: (s: ReceivedSpan) => boolean): ReceivedSpan => {
      const found = spans.filter(pick);
      expect([what, found.length]).toEqual([what, 1]);
      return found[0];
    };
    const childrenOf = (parent: ReceivedSpan, pick: (s: ReceivedSpan) => boolean) =>
      spans.filter((s) => s.parentSpanId === parent.spanId && pick(s));

    const request = one('the start request', (s) => s.kind === SERVER);
    expect(request).toMatchObject({
      service: 'reopen-api',
      parentSpanId: callerSpan,
      name: 'POST /api/v1/waves/:id/start',
      attributes: {
        'http.request.method': 'POST',
        'http.route': '/api/v1/waves/:id/start',
        'url.path': `/api/v1/waves/${wave.id}/start`,
        'http.response.status_code': 200,
        'reopen.request_id': wave.requestId,
      },
    });
    const publish = childrenOf(request, (s) => s.kind === PRODUCER);
    expect(publish.map((s) => [s.service, s.name, s.attributes['messaging.message.id']])).toEqual([
      ['reopen-api', 'waves publish', expect.stringMatching(new RegExp(`^pump-forward-${wave.id}-g\\d+-s0$`))],
    ]);
    const job = one('the pump job', (s) => s.kind === CONSUMER);
    expect(job).toMatchObject({
      service: 'reopen-worker',
      parentSpanId: publish[0].spanId,
      name: 'waves process',
      attributes: {
        'reopen.job.name': 'wave.pump',
        'messaging.message.id': expect.stringMatching(new RegExp(`^pump-forward-${wave.id}-g\\d+-s0$`)),
      },
    });

    // Each batch the simulator saw is one batch span under the job, with one mailstore call span under it, both
    // carrying the batch's key and the attempt's request id; no span names a login.
    const calls = api.h.batchCalls(wave.id);
    expect(calls.length).toBe(3);
    const batches = childrenOf(job, (s) => s.name === 'batch forward');
    expect(batches.map((b) => b.attributes['reopen.request_id']).sort()).toEqual(calls.map((c) => c.requestId).sort());
    for (const batch of batches) {
      expect(batch).toMatchObject({
        service: 'reopen-worker',
        attributes: { 'reopen.wave.id': wave.id, 'reopen.batch.members': 10, 'reopen.outcome': 'ok' },
      });
      const http = childrenOf(batch, (s) => s.kind === CLIENT);
      expect(http).toHaveLength(1);
      expect(http[0]).toMatchObject({
        name: 'POST /v1/access/batch',
        attributes: {
          'http.request.method': 'POST',
          'http.response.status_code': 200,
          'reopen.idempotency_key': batch.attributes['reopen.idempotency_key'],
          'reopen.request_id': batch.attributes['reopen.request_id'],
          'reopen.batch.items': 10,
          'reopen.outcome': 'ok',
        },
      });
      const call = calls.find((c) => c.requestId === batch.attributes['reopen.request_id']);
      expect(call?.idempotencyKey).toBe(batch.attributes['reopen.idempotency_key']);
    }
    expect(JSON.stringify(receiver.spans)).not.toMatch(/user\d+@example\.test|user\d+%40/);
  });
  it('traces a native driver the same way: each batch span holds the driver’s client span (dovecot-sql)', async () => {
    const passdb = await createPassdbDatabase('postgres', 'columns');
    const logins = loginRange(61, 90);
    await passdb.addAccounts(logins.map((login) => ({ login, password: 'secret' })));
    const otel = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_BSP_SCHEDULE_DELAY: '100' };
    const traced = await api.startAnotherApi(otel);
    const worker = await WorkerProcess.start({ ...api.h.env, ...otel, ...dovecotSqlEnv(passdb) });
    const traceId = randomBytes(16).toString('hex');
    let wave: { id: string };
    try {
      wave = await runWave('traced native', logins, traced.origin, {
        traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01`,
      });
      // The mail server did it: every login open for IMAP in the passdb.
      for (const login of logins) expect([login, (await passdb.flags(login))?.imap]).toEqual([login, true]);
    } finally {
      expect(await worker.terminate()).toBe(0);
      await traced.stop();
      await passdb.drop();
    }
    const spans = receiver.spans.filter((s) => s.traceId === traceId);
    const jobs = spans.filter((s) => s.kind === CONSUMER && s.attributes['reopen.job.name'] === 'wave.pump');
    expect(jobs).toHaveLength(1);
    const batches = spans.filter((s) => s.parentSpanId === jobs[0].spanId && s.name === 'batch forward');
    expect(batches).toHaveLength(3); // 30 members in batches of 10
    for (const batch of batches) {
      expect(batch.attributes).toMatchObject({ 'reopen.wave.id': wave.id, 'reopen.outcome': 'ok' });
      const client = spans.filter((s) => s.parentSpanId === batch.spanId && s.kind === CLIENT);
      expect(client).toHaveLength(1);
      expect(client[0]).toMatchObject({
        service: 'reopen-worker',
        name: 'dovecot-sql batch',
        attributes: {
          'reopen.driver': 'dovecot-sql',
          'server.address': '127.0.0.1',
          'reopen.idempotency_key': batch.attributes['reopen.idempotency_key'],
          'reopen.request_id': batch.attributes['reopen.request_id'],
          'reopen.batch.items': 10,
          'reopen.outcome': 'ok',
        },
      });
      // Not an HTTP call: no HTTP status on it.
      expect(client[0].attributes['http.response.status_code']).toBeUndefined();
    }
    expect(JSON.stringify(spans)).not.toMatch(/user\d+@example\.test|user\d+%40/);
  });
});
