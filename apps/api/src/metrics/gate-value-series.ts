import { assertNever, GateMetric } from '@app/domain';

/** The gauge families a gate's value goes to, one per unit (issue 21: `reopen_wave_gate_value` mixed them). */
export type GateValueFamily = 'ratio' | 'latency' | 'perSecond' | 'signal' | 'query';

/**
 * Where a gate's value is exported and in which base unit: a share stays a ratio, the p95 latency gate's milliseconds
 * become seconds, failed logins per minute become per second; a signal or a Prometheus query keeps its own unit, each in
 * a family of its own.
 */
export function gateValueSeries(metric: GateMetric, value: number): { family: GateValueFamily; value: number } {
  switch (metric) {
    case 'mailstore_error_rate':
    case 'login_failure_ratio':
      return { family: 'ratio', value };
    case 'mailstore_p95_latency_ms':
      return { family: 'latency', value: value / 1000 };
    case 'login_failures_per_minute':
      return { family: 'perSecond', value: value / 60 };
    case 'signal':
      return { family: 'signal', value };
    case 'prometheus':
      return { family: 'query', value };
    default:
      return assertNever(metric, 'gate metric');
  }
}
