import { assertNever, GateMetric } from '@app/domain';

/** The gauge families a gate's value goes to, one per unit (issue 21: `reopen_wave_gate_value` mixed them). */
export type GateValueFamily = 'ratio' | 'latency' | 'perSecond' | 'signalOverThreshold';

/**
 * Where a gate's value is exported and in which base unit, or null when it is not: a share stays a ratio, the p95
 * latency gate's milliseconds become seconds, failed logins per minute become per second. A signal is in whatever
 * unit its sender chose, different from gate to gate: what is exported is the signal over the gate's threshold
 * (dimensionless, above 1 above the threshold), none with a threshold of 0. A Prometheus gate's measurement is its
 * own query's result, which Prometheus holds already: not exported again (the status page and progress show it).
 */
export function gateValueSeries(
  metric: GateMetric,
  value: number,
  threshold: number | null,
): { family: GateValueFamily; value: number } | null {
  switch (metric) {
    case 'mailstore_error_rate':
    case 'login_failure_ratio':
      return { family: 'ratio', value };
    case 'mailstore_p95_latency_ms':
      return { family: 'latency', value: value / 1000 };
    case 'login_failures_per_minute':
      return { family: 'perSecond', value: value / 60 };
    case 'signal':
      return threshold !== null && threshold > 0 ? { family: 'signalOverThreshold', value: value / threshold } : null;
    case 'prometheus':
      return null;
    default:
      return assertNever(metric, 'gate metric');
  }
}
