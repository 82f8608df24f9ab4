import { Gate } from '@app/domain';
import { aWave, createEngineHarness, EngineHarness, PrivatePrometheus } from '@app/testing';
import { sqlOfDataSource } from '../db/sql';
import { NotFoundError } from '../errors';
import { ProgressService } from '../progress/progress.service';
import { GateEvaluator } from './gate-evaluator';
import { GateMeasurementRepository } from './gate-measurement.repository';
import { PrometheusGates } from './prometheus-gates';

const gate = (name: string, query: string, over: Partial<Gate> = {}): Gate =>
  ({
    name,
    metric: 'prometheus',
    query,
    intervalSeconds: 1,
    failureCondition: 'result > 10',
    action: 'halt',
    ...over,
  }) as Gate;

describe('PrometheusGates (a real Prometheus, real PostgreSQL)', () => {
  let h: EngineHarness;
  let prom: PrivatePrometheus;
  let waveId: string;
  const repository = new GateMeasurementRepository();
  const sql = () => sqlOfDataSource(h.db.dataSource);
  const at = (s: number) => new Date(Date.UTC(2026, 4, 11, 9, 0, s));

  beforeAll(async () => {
    h = await createEngineHarness('prom-gates');
    prom = await PrivatePrometheus.create([]);
    await prom.start();
    waveId = (await aWave('w').remaining().rate(10).create(h)).id;
  }, 60_000);
  afterAll(async () => {
    await prom?.destroy();
    await h?.close();
  });

  it('measures each gate once per interval, whatever the workers, and reads each analysis', async () => {
    const gates = [
      gate('calm', 'vector(3)'),
      gate('burst', 'vector(30)'),
      gate('tolerant', 'vector(30)', { failureLimit: 1 }),
    ];
    const wave = { id: waveId, generation: 1, gates };
    const workerA = new PrometheusGates({ url: prom.url, timeoutMs: 5000 });
    const workerB = new PrometheusGates({ url: prom.url, timeoutMs: 5000 });
    const [a, b] = await Promise.all([workerA.analyse(sql(), wave, at(0)), workerB.analyse(sql(), wave, at(0))]);
    const rows = await h.db.dataSource.query<{ gate: string; n: number }[]>(
      `SELECT gate, count(*)::int AS n FROM gate_measurements WHERE wave_id = $1 GROUP BY gate ORDER BY gate`,
      [waveId],
    );
    expect(rows).toEqual([
      { gate: 'burst', n: 1 },
      { gate: 'calm', n: 1 },
      { gate: 'tolerant', n: 1 },
    ]);
    for (const analysis of [a, b]) {
      expect(analysis.get('calm')).toMatchObject({
        last: { phase: 'successful', value: 3 },
        verdict: { phase: 'running' },
      });
      expect(analysis.get('burst')).toMatchObject({
        last: { phase: 'failed', value: 30 },
        verdict: { phase: 'failed' },
      });
      expect(analysis.get('tolerant')?.verdict).toEqual({ phase: 'running' });
    }
    // The next interval: a second failure passes failureLimit 1.
    const next = await workerA.analyse(sql(), wave, at(1));
    expect(next.get('tolerant')?.verdict).toEqual({ phase: 'failed', message: 'failed (2) > failureLimit (1)' });
  });

  it('check(): tries each query once, records nothing, and calls an error or no data inconclusive', async () => {
    const gates = [
      gate('calm', 'vector(3)'),
      gate('burst', 'vector(30)'),
      gate('nodata', 'sum(absent_metric_total)'),
      gate('typo', 'sum(rate(x[5m])'),
    ];
    const { id } = await aWave('checked').remaining().rate(10).create(h);
    await h.db.dataSource.query(`UPDATE waves SET gates = $2 WHERE id = $1`, [id, JSON.stringify(gates)]);
    const check = new GateEvaluator(h.db.dataSource, h.commands, { url: prom.url, timeoutMs: 2000 });
    const results = await check.check(id);
    expect(results?.map((r) => [r.gate, r.status, r.value])).toEqual([
      ['calm', 'ok', 3],
      ['burst', 'breached', 30],
      ['nodata', 'inconclusive', undefined],
      ['typo', 'inconclusive', undefined],
    ]);
    expect(results?.[1].reason).toBe('trial query: result > 10 (30)');
    expect(results?.[2].reason).toBe('trial query: the query returned no data');
    expect(results?.[3].reason).toMatch(/^trial query: query failed: HTTP 400 bad_data: /);
    await prom.stop();
    try {
      expect((await check.check(id))?.[0]).toMatchObject({
        status: 'inconclusive',
        reason: 'trial query: query failed: unreachable (ECONNREFUSED)',
      });
    } finally {
      await prom.start();
    }
    const [kept] = await h.db.dataSource.query<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM gate_measurements WHERE wave_id = $1`,
      [id],
    );
    expect(kept.n).toBe(0);
  });

  it('an empty result is inconclusive at once; a stopped Prometheus errs after consecutiveErrorLimit', async () => {
    const gates = [gate('nodata', 'sum(absent_metric_total)'), gate('down', 'vector(1)', { consecutiveErrorLimit: 1 })];
    const wave = { id: waveId, generation: 2, gates };
    const runner = new PrometheusGates({ url: prom.url, timeoutMs: 2000 });
    const first = await runner.analyse(sql(), wave, at(10));
    expect(first.get('nodata')).toMatchObject({
      last: { phase: 'inconclusive', reason: 'the query returned no data' },
      verdict: { phase: 'inconclusive' },
    });
    expect(first.get('down')?.verdict).toEqual({ phase: 'running' });
    await prom.stop();
    expect((await runner.analyse(sql(), wave, at(11))).get('down')).toMatchObject({
      last: { phase: 'error', reason: 'query failed: unreachable (ECONNREFUSED)' },
      verdict: { phase: 'running' },
    });
    expect((await runner.analyse(sql(), wave, at(12))).get('down')?.verdict).toEqual({
      phase: 'error',
      message: 'consecutiveErrors (2) > consecutiveErrorLimit (1)',
    });
    await prom.start();
    // A measurement that is not an error ends the run of errors; a new run (generation) starts from nothing.
    expect((await runner.analyse(sql(), wave, at(13))).get('down')?.verdict).toEqual({ phase: 'running' });
    const resumed = await runner.analyse(sql(), { ...wave, generation: 3, gates: [gates[0]] }, at(14));
    expect((await repository.runs(sql(), waveId, 3)).get('nodata')?.counts.measurements).toBe(1);
    expect(resumed.get('nodata')?.verdict.phase).toBe('inconclusive');
  });

  it('a resumed run measures at once, even within the interval its previous run measured', async () => {
    // A halt on a failed measurement, then a resume 10 s later: with a 60 s interval, the new run must not go on
    // without a measurement (insufficient data, no action) until the next interval starts.
    const { id } = await aWave('resumed').remaining().rate(10).create(h);
    const gates = [gate('hourly', 'vector(30)', { intervalSeconds: 60 })];
    const runner = new PrometheusGates({ url: prom.url, timeoutMs: 2000 });
    expect((await runner.analyse(sql(), { id, generation: 1, gates }, at(40))).get('hourly')?.verdict.phase).toBe(
      'failed',
    );
    const resumed = await runner.analyse(sql(), { id, generation: 2, gates }, at(50));
    expect(resumed.get('hourly')).toMatchObject({ last: { phase: 'failed', value: 30 }, verdict: { phase: 'failed' } });
    // Still one measurement per interval within a run.
    await runner.analyse(sql(), { id, generation: 2, gates }, at(55));
    expect((await repository.runs(sql(), id, 2)).get('hourly')?.counts.measurements).toBe(1);
  });

  it('keeps every value, newest first, for progress and the status page', async () => {
    const recent = await repository.recent(sql(), waveId, 3);
    // The newest: the resumed run's; before it, the interval where both gates were measured at once.
    expect(recent[0]).toMatchObject({ gate: 'nodata', phase: 'inconclusive' });
    expect(
      recent
        .slice(1)
        .map((m) => m.gate)
        .sort(),
    ).toEqual(['down', 'nodata']);
    expect(recent.find((m) => m.gate === 'down')).toMatchObject({ phase: 'successful', value: 1 });
  });

  it('progress serves them per wave, and says when the wave is unknown', async () => {
    const progress = new ProgressService(h.db.dataSource);
    expect(await progress.gateMeasurements(waveId, 3)).toEqual(await repository.recent(sql(), waveId, 3));
    await expect(progress.gateMeasurements('00000000-0000-4000-8000-000000000000', 3)).rejects.toBeInstanceOf(
      NotFoundError,
    );
  });

  it('without PROMETHEUS_URL a prometheus gate errs (never passes)', async () => {
    const runner = new PrometheusGates({ timeoutMs: 1000 });
    const wave = { id: waveId, generation: 9, gates: [gate('nourl', 'vector(1)', { consecutiveErrorLimit: 0 })] };
    expect((await runner.analyse(sql(), wave, at(30))).get('nourl')).toMatchObject({
      last: { phase: 'error', reason: 'query failed: PROMETHEUS_URL is not set' },
      verdict: { phase: 'error' },
    });
  });
});
