import { GateMetric } from './gates';
import { acceptsNewCalls, WaveState } from './wave-state';

/**
 * Why a wave sends below its set rate, in the order a reader should hear it:
 * - `retry_after`: the mailstore answered 429/503 with a Retry-After, and nobody starts a call before it has passed;
 * - `pace_after_errors`: since those answers, the shared pace runs at a fraction of the set rates (it halves on each
 *   Retry-After episode and recovers a step per successful call: libs/core Throttle);
 * - `mailstore_rate_limit`: the mailstore's advertised account-update rate (its capabilities) is below the wave's.
 */
export const SLOW_REASONS = ['retry_after', 'pace_after_errors', 'mailstore_rate_limit'] as const;
export type SlowReason = (typeof SLOW_REASONS)[number];

export interface PaceInput {
  state: WaveState;
  /** The lane's set rate: the wave's rate, or its rollback rate while rolling back. */
  targetPerSecond: number;
  /** The mailstore's advertised account updates per second; null while no worker has read its capabilities. */
  mailstoreRatePerSecond: number | null;
  /** The shared pace factor (1: full); null when it could not be read. */
  factor: number | null;
  /** How long every sender still waits for a Retry-After; null when it could not be read. */
  blockedMs: number | null;
}

export interface PaceExplanation {
  /**
   * The most the engine can send for this wave now, accounts/s: min(set rate, mailstore's rate) × pace factor (the
   * Throttle charges both buckets at the factor). Null when the wave is not sending.
   */
  ceilingPerSecond: number | null;
  /** Empty when nothing holds the wave below its set rate, or when it is not sending. */
  reasons: SlowReason[];
}

/** A factor this close to 1 is full pace (the recovery adds 0.05 steps in floating point). */
const FULL = 0.999;

export function explainPace(p: PaceInput): PaceExplanation {
  if (!acceptsNewCalls(p.state)) return { ceilingPerSecond: null, reasons: [] };
  const reasons: SlowReason[] = [];
  if (p.blockedMs !== null && p.blockedMs > 0) reasons.push('retry_after');
  if (p.factor !== null && p.factor < FULL) reasons.push('pace_after_errors');
  const mailstore = p.mailstoreRatePerSecond;
  if (mailstore !== null && mailstore > 0 && mailstore < p.targetPerSecond) reasons.push('mailstore_rate_limit');
  const base = mailstore !== null && mailstore > 0 ? Math.min(p.targetPerSecond, mailstore) : p.targetPerSecond;
  const factor = p.factor !== null && p.factor < FULL ? p.factor : 1;
  return { ceilingPerSecond: Math.round(base * factor * 100) / 100, reasons };
}

/**
 * What a gate's value and threshold are measured in, so a dashboard formats them right (0.05 is 5 %, not "0.1"):
 * `fraction` (0.02 = 2 %), `ms`, `per_minute` (failed logins per minute), `number` (a signal in its own unit, a
 * Prometheus query's result).
 */
export type GateUnit = 'fraction' | 'ms' | 'per_minute' | 'number';

export function gateUnit(metric: GateMetric): GateUnit {
  switch (metric) {
    case 'mailstore_error_rate':
    case 'login_failure_ratio':
      return 'fraction';
    case 'mailstore_p95_latency_ms':
      return 'ms';
    case 'login_failures_per_minute':
      return 'per_minute';
    case 'signal':
    case 'prometheus':
      return 'number';
  }
}
