import { Gate, Protocol, RampStep } from '@app/domain';
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
  steps?: RampStep[];
  startLocal?: string;
  timeZone?: string;
}

export const WAVE_DEFAULTS = { batchSize: 500, concurrency: 4 } as const;
export const WAVE_LIMITS = { maxRate: 1_000_000, maxBatchSize: 5000, maxConcurrency: 64, maxLogins: 100_000 } as const;
