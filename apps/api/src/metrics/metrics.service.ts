import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { NotificationService, ProgressService, WaveProgress } from '@app/core';
import { hideAddresses } from '@app/domain';
import { QUEUES, QueueProducer, QueueUnavailableError } from '@app/queue';
import { registerNotificationMetrics } from '../notifications/notification.metrics';
import { MailstoreCallMetrics } from './mailstore-call.metrics';

type WaveLabels = 'wave_id' | 'wave';

/**
 * Prometheus exposition, refreshed at each scrape from the same sources as the progress endpoints (counters,
 * last-minute rate, gates), plus mailstore call latency/outcomes and queue depth. Gauges are reset at each
 * scrape, so a wave that left the overview leaves the output too.
 */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();
  private readonly calls: MailstoreCallMetrics;
  private readonly g: Record<string, Gauge<string>>;
  private defaultsStarted = false;

  constructor(
    private readonly progress: ProgressService,
    private readonly producer: QueueProducer,
    dataSource: DataSource,
    notifications: NotificationService,
  ) {
    const gauge = <L extends string>(name: string, help: string, labels: L[]) =>
      new Gauge<L>({ name, help, labelNames: labels, registers: [this.registry] });
    const w: WaveLabels[] = ['wave_id', 'wave'];
    this.g = {
      members: gauge('reopen_wave_members', 'Members of a wave by state', [...w, 'state']),
      skipped: gauge('reopen_wave_skipped_members', 'Skipped members by reason', [...w, 'reason']),
      failed: gauge('reopen_wave_failed_members', 'Failed members by reason', [...w, 'reason']),
      rollback: gauge('reopen_wave_rollback_members', 'Rollback members by state', [...w, 'state']),
      state: gauge('reopen_wave_state', '1 for the state the wave is in', [...w, 'state']),
      rate: gauge('reopen_wave_rate_per_second', 'Accounts per second: observed (last minute) and target', [
        ...w,
        'kind',
      ]),
      eta: gauge('reopen_wave_eta_seconds', 'Seconds left at the current rate (absent when not moving)', w),
      gate: gauge('reopen_wave_gate_status', '1 for the status each gate evaluates to now', [...w, 'gate', 'status']),
      gateValue: gauge('reopen_wave_gate_value', 'The value each gate compares with its threshold', [...w, 'gate']),
      queue: gauge('reopen_queue_jobs', 'BullMQ jobs by queue and state', ['queue', 'state']),
    };
    this.calls = new MailstoreCallMetrics(dataSource, this.registry);
    registerNotificationMetrics(this.registry, notifications);
  }

  async render(): Promise<{ contentType: string; body: string }> {
    if (!this.defaultsStarted) {
      collectDefaultMetrics({ register: this.registry, prefix: 'reopen_api_' });
      this.defaultsStarted = true;
    }
    const [overview, queues] = await Promise.all([this.progress.overview(), this.queueCounts(), this.calls.poll()]);
    for (const gauge of Object.values(this.g)) gauge.reset();
    for (const wave of overview.waves) this.setWave(wave);
    for (const [queue, counts] of queues) {
      for (const [state, n] of Object.entries(counts)) this.g.queue.set({ queue, state }, n);
    }
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
    this.g.rate.set({ ...l, kind: 'observed' }, p.rate.observedPerSecond);
    this.g.rate.set({ ...l, kind: 'target' }, p.rate.targetPerSecond);
    if (p.etaSeconds !== null) this.g.eta.set(l, p.etaSeconds);
    for (const gate of p.gates) {
      this.g.gate.set({ ...l, gate: gate.name, status: gate.status }, 1);
      if (gate.value !== null) this.g.gateValue.set({ ...l, gate: gate.name }, gate.value);
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
