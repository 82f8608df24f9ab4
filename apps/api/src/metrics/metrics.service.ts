import { Inject, Injectable } from '@nestjs/common';
import { Gauge, Registry } from 'prom-client';
import { METRICS_REGISTRY, NotificationService, ProgressService, startProcessMetrics, WaveProgress } from '@app/core';
import { hideAddresses, isFinished } from '@app/domain';
import {
  countWorkers,
  isConnectionError,
  QUEUES,
  QueueProducer,
  QueueUnavailableError,
  WorkerRoster,
} from '@app/queue';
import { HealthIndicators } from '../health/health.indicators';
import { registerNotificationMetrics } from '../notifications/notification.metrics';
import { gateValueSeries } from './gate-value-series';

type WaveLabels = 'wave_id' | 'wave';

/**
 * The API's Prometheus exposition (GET /api/v1/metrics), on the process's registry (METRICS_REGISTRY: other providers
 * add theirs to it). Two kinds, as docs/metrics.md says:
 * - state read at each scrape, the same on every API replica (aggregate with `max`): the waves from the same sources as
 *   the progress endpoints (counters, last-minute rate, gates), the queues' depth (Redis);
 * - what this process observed itself (aggregate with `sum`): its answers (request-metrics.ts), the signals and login
 *   events it received (signal-metrics.ts), whether it reaches each dependency now.
 * The mailstore's calls are the worker's to count (it makes them): the API no longer rebuilds them from
 * `mailstore_calls`, which counted every call once per replica and replayed history at each restart.
 * Gauges are reset at each scrape, so a wave that left the overview leaves the output too.
 */
@Injectable()
export class MetricsService {
  private readonly g: Record<string, Gauge<string>>;

  constructor(
    @Inject(METRICS_REGISTRY) readonly registry: Registry,
    private readonly progress: ProgressService,
    private readonly producer: QueueProducer,
    private readonly health: HealthIndicators,
    private readonly roster: WorkerRoster,
    notifications: NotificationService,
  ) {
    const gauge = <L extends string>(name: string, help: string, labels: L[]) =>
      new Gauge<L>({ name, help, labelNames: labels, registers: [registry] });
    const w: WaveLabels[] = ['wave_id', 'wave'];
    const gw: (WaveLabels | 'gate')[] = [...w, 'gate'];
    this.g = {
      members: gauge('reopen_wave_members', 'Members of a wave by state', [...w, 'state']),
      skipped: gauge('reopen_wave_skipped_members', 'Skipped members by reason', [...w, 'reason']),
      failed: gauge('reopen_wave_failed_members', 'Failed members by reason', [...w, 'reason']),
      rollback: gauge('reopen_wave_rollback_members', 'Rollback members by state', [...w, 'state']),
      state: gauge('reopen_wave_state', '1 for the state the wave is in', [...w, 'state']),
      reason: gauge(
        'reopen_wave_status_reason',
        '1 for why the wave is in its state (ops, ramp_bake, gate:<name>, mailstore_unreachable, …); absent without one',
        [...w, 'reason'],
      ),
      rate: gauge('reopen_wave_rate_per_second', 'Accounts per second: observed (last minute) and target', [
        ...w,
        'kind',
      ]),
      eta: gauge('reopen_wave_eta_seconds', 'Seconds left at the current rate (absent when not moving)', w),
      scheduledStart: gauge(
        'reopen_wave_scheduled_start_timestamp_seconds',
        'A scheduled wave: when it should start (Unix time); still here past it means its start has not fired',
        w,
      ),
      workers: gauge(
        'reopen_workers',
        'Worker processes by state (the roster in Redis, the last hour): alive (reported in the last 15 s), stopped ' +
          '(said so), lost (stopped reporting); absent while Redis is unreachable',
        ['state'],
      ),
      gate: gauge('reopen_wave_gate_status', '1 for the status each gate evaluates to now', [...gw, 'status']),
      ratio: gauge(
        'reopen_wave_gate_ratio',
        'Gates on a share (mailstore_error_rate, login_failure_ratio): the value compared with the threshold, 0..1',
        gw,
      ),
      latency: gauge(
        'reopen_wave_gate_latency_seconds',
        'Gates on mailstore latency (mailstore_p95_latency_ms): the p95 compared with the threshold, in seconds',
        gw,
      ),
      perSecond: gauge(
        'reopen_wave_gate_login_failures_per_second',
        'Gates on failed logins (login_failures_per_minute): the rate compared with the threshold, per second',
        gw,
      ),
      signalOverThreshold: gauge(
        'reopen_wave_gate_signal_threshold_ratio',
        'Signal gates: the signal over the gate threshold, dimensionless (above 1: above it); none with a threshold of 0',
        gw,
      ),
      queue: gauge('reopen_queue_jobs', 'BullMQ jobs by queue and state', ['queue', 'state']),
      up: gauge(
        'reopen_api_dependency_up',
        'Whether this API process reaches each dependency now (1) or not (0); readiness needs only database and redis',
        ['dependency'],
      ),
    };
    registerNotificationMetrics(this.registry, notifications);
  }

  async render(): Promise<{ contentType: string; body: string }> {
    startProcessMetrics(this.registry, 'api');
    const [overview, queues, dependencies, workers] = await Promise.all([
      this.progress.overview(),
      this.queueCounts(),
      this.health.dependencies(),
      this.workerCounts(),
    ]);
    for (const gauge of Object.values(this.g)) gauge.reset();
    for (const wave of overview.waves) this.setWave(wave);
    for (const [queue, counts] of queues) {
      for (const [state, n] of Object.entries(counts)) this.g.queue.set({ queue, state }, n);
    }
    for (const [dependency, d] of Object.entries(dependencies)) {
      this.g.up.set({ dependency }, d.status === 'up' ? 1 : 0);
    }
    for (const [state, n] of Object.entries(workers ?? {})) this.g.workers.set({ state }, n);
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  private setWave(p: WaveProgress): void {
    // Labels end up in long-lived time series that every reader sees: never an e-mail address in them.
    const l = { wave_id: p.waveId, wave: hideAddresses(p.name) };
    for (const [state, n] of Object.entries(p.counts)) this.g.members.set({ ...l, state }, n);
    for (const [reason, n] of Object.entries(p.skipReasons)) this.g.skipped.set({ ...l, reason }, n);
    for (const [reason, n] of Object.entries(p.failureReasons)) this.g.failed.set({ ...l, reason }, n);
    for (const [state, n] of Object.entries(p.rollback?.counts ?? {})) this.g.rollback.set({ ...l, state }, n);
    this.g.state.set({ ...l, state: p.state }, 1);
    if (p.statusReason) this.g.reason.set({ ...l, reason: p.statusReason }, 1);
    // A finished wave sends nothing: its time series drops to 0 (its progress view keeps the last minute's figure).
    this.g.rate.set({ ...l, kind: 'observed' }, isFinished(p.state) ? 0 : p.rate.observedPerSecond);
    this.g.rate.set({ ...l, kind: 'target' }, p.rate.targetPerSecond);
    if (p.etaSeconds !== null) this.g.eta.set(l, p.etaSeconds);
    if (p.state === 'scheduled' && p.startAt) this.g.scheduledStart.set(l, p.startAt.getTime() / 1000);
    for (const gate of p.gates) {
      this.g.gate.set({ ...l, gate: gate.name, status: gate.status }, 1);
      if (gate.value === null) continue;
      const series = gateValueSeries(gate.metric, gate.value, gate.threshold);
      if (series) this.g[series.family].set({ ...l, gate: gate.name }, series.value);
    }
  }

  /** The roster's workers by state; null while Redis is unreachable (the gauge is left out, not a false 0). */
  private async workerCounts(): Promise<ReturnType<typeof countWorkers> | null> {
    try {
      return countWorkers(await this.roster.read());
    } catch (err) {
      if (isConnectionError(err)) return null;
      throw err;
    }
  }

  /** None while Redis is unreachable: the scrape still answers with the waves (the outage is the log's, and ready's). */
  private async queueCounts(): Promise<[string, Record<string, number>][]> {
    try {
      return await Promise.all(
        Object.values(QUEUES).map(
          async (name) =>
            [name, await this.producer.jobCounts(name, 'waiting', 'active', 'delayed', 'prioritized', 'failed')] as [
              string,
              Record<string, number>,
            ],
        ),
      );
    } catch (err) {
      if (err instanceof QueueUnavailableError) return [];
      throw err;
    }
  }
}
