import { ApprovalPolicy, Gate, Protocol, RampStep, ReclosePolicy, TimeWindows } from '@app/domain';
import { WaveSelectorJson } from '@app/db';

/** What ops give to create a wave (validated by WaveCommandsService.create). */
export interface CreateWaveInput {
  name: string;
  description?: string;
  selector: WaveSelectorJson;
  protocols: Protocol[];
  /** Local wall-clock start, e.g. 2026-05-09T08:00, with an IANA time zone. */
  startLocal?: string;
  timeZone?: string;
  ratePerSecond: number;
  rollbackRatePerSecond?: number;
  batchSize?: number;
  concurrency?: number;
  steps?: RampStep[];
  gates?: Gate[];
  /** The per-account reaction to credential stuffing on the accounts this wave opens (null or absent: none). */
  reclose?: ReclosePolicy | null;
  /** When the wave may send (weekly ranges, blackouts, in a zone); null or absent: any time. docs/windows.md. */
  windows?: TimeWindows | null;
  /** Two-person approval rules of this wave, on top of the deployment's (docs/approvals.md). */
  approvalPolicy?: Partial<ApprovalPolicy> | null;
}

/** What ops may change, also while the wave runs. */
export interface UpdateWaveInput {
  name?: string;
  description?: string;
  ratePerSecond?: number;
  rollbackRatePerSecond?: number;
  batchSize?: number;
  concurrency?: number;
  gates?: Gate[];
  /** null: no reaction any more. */
  reclose?: ReclosePolicy | null;
  steps?: RampStep[];
  startLocal?: string;
  timeZone?: string;
  /** Also while the wave runs or waits for its window; null: any time from now on. */
  windows?: TimeWindows | null;
  /** Tightens only: a rule dropped or a bound raised is refused. */
  approvalPolicy?: Partial<ApprovalPolicy> | null;
}

export const WAVE_DEFAULTS = { batchSize: 500, concurrency: 4 } as const;
/**
 * Bounds of a wave's settings. `minRate`: one account every 10 s; below it a wave would look running while moving
 * nothing for minutes (1e-300/s was accepted once and stalled the throttle for an hour).
 */
export const WAVE_LIMITS = {
  minRate: 0.1,
  maxRate: 1_000_000,
  maxBatchSize: 5000,
  maxConcurrency: 64,
  maxLogins: 100_000,
} as const;
