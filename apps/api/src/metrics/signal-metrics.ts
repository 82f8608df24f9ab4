import { Inject, Injectable } from '@nestjs/common';
import { Counter, Registry } from 'prom-client';
import { LoginEventResult, METRICS_REGISTRY } from '@app/core';

/**
 * The signal streams as this API process received them (counters: `sum` across replicas is the whole stream): the mail
 * server's login events (POST /login-events) and the signals pushed to POST /signals. The "signal stream silent" alert
 * (deploy/prometheus/reopen-alerts.yml) reads them: a stream that went quiet while a wave runs blinds its gates.
 */
@Injectable()
export class SignalStreamMetrics {
  private readonly loginEvents: Counter<'result'>;
  private readonly signals: Counter;

  constructor(@Inject(METRICS_REGISTRY) registry: Registry) {
    this.loginEvents = new Counter({
      name: 'reopen_api_login_events_received_total',
      help: 'Login events this API process received from the mail server, by result (accepted, or why dropped)',
      labelNames: ['result'],
      registers: [registry],
    });
    // Present at 0 from the start: increase() over a stream that never sent anything is 0, not "no data".
    this.loginEvents.inc({ result: 'accepted' }, 0);
    this.signals = new Counter({
      name: 'reopen_api_signals_received_total',
      // No label by signal name: a key of the signals role may push any name, and every name would be a series.
      help: 'Signals this API process recorded (POST /signals)',
      registers: [registry],
    });
  }

  /** One child per result, made once: inc() with a label object hashes the labels on every call (5,000 a second). */
  private readonly byResult = new Map<string, Counter.Internal>();

  loginEventsReceived(results: readonly LoginEventResult[]): void {
    for (const r of results) {
      let child = this.byResult.get(r);
      if (!child) this.byResult.set(r, (child = this.loginEvents.labels(r)));
      child.inc();
    }
  }

  signalReceived(): void {
    this.signals.inc();
  }
}
