import { EnvironmentDto } from '@app/config';

/** What the wave engine runs on, read from the validated environment (README, "Configuration"). */
export interface EngineSettings {
  /** Passwords changed at or before this instant are considered known to the attackers. */
  incidentAt: Date;
  /** How long a claimed batch stays ours without news (then another worker may take it over). */
  leaseMs: number;
  /**
   * The send window: a call starts within this long of its permit's statement, or not at all (the attempt is
   * withdrawn). A command that stops a wave waits at most this long after its commit for calls already permitted.
   */
  sendWindowMs: number;
  /** Consecutive retryable failures (5xx, timeouts, resets) of one batch before the wave pauses as unreachable. */
  maxConsecutiveFailures: number;
  /** Exponential backoff between a batch's attempts after retryable failures (full jitter). */
  retryBackoff: { baseMs: number; maxMs: number };
}

/** The pace shared by every worker (libs/core Throttle): its floor after 429/503s and its recovery per success. */
export interface PaceSettings {
  minFactor: number;
  recoveryStep: number;
}

export function engineSettings(config: EnvironmentDto): EngineSettings {
  return {
    incidentAt: new Date(config.INCIDENT_AT),
    leaseMs: config.BATCH_LEASE_MS,
    sendWindowMs: config.BATCH_SEND_WINDOW_MS,
    maxConsecutiveFailures: config.BATCH_MAX_CONSECUTIVE_FAILURES,
    retryBackoff: { baseMs: config.BATCH_RETRY_BASE_MS, maxMs: config.BATCH_RETRY_MAX_MS },
  };
}

export function paceSettings(config: EnvironmentDto): PaceSettings {
  return { minFactor: config.PACE_MIN_FACTOR, recoveryStep: config.PACE_RECOVERY_STEP };
}
