import { JobsOptions } from 'bullmq';
import type { BatchKind } from '@app/domain';

/**
 * The one queue contract (style.md): queue names, job names, typed payloads, job-id builders and default
 * options live here and nowhere else. PostgreSQL is the source of truth; jobs only say "work on this now",
 * so any of them can be re-created from the database by the reconciler (same id, so never twice at once).
 */
export const QUEUES = {
  /** Long-running wave pumps (one per concurrency slot), scheduled starts, ramp bake ends, time window edges. */
  waves: 'waves',
  /** The support lane: single-account operations; its own queue and worker so it never waits behind waves. */
  support: 'support',
} as const;

export interface WavePumpJob {
  waveId: string;
  kind: BatchKind;
  /** The wave's run generation: a pump of an older generation (before a pause/resume) exits. */
  generation: number;
  slot: number;
}

export interface WaveStartJob {
  waveId: string;
  /** ISO instant the start was scheduled for, to record how late it fired. */
  dueAt: string;
}

export interface WaveBakeEndJob {
  waveId: string;
  step: number;
}

/** A wave's time window closes or opens about now (docs/windows.md): the commands decide which, under the wave's lock. */
export interface WaveWindowJob {
  waveId: string;
  /** ISO instant of the edge it was armed for. */
  at: string;
}

export interface OperationJob {
  operationId: string;
}

/**
 * Any job's data may carry the W3C trace context (`traceparent`, `tracestate`) of the command that queued it, when
 * tracing is on (libs/tracing): the worker continues that trace. Never read for anything else; absent when off.
 */
export interface Traced {
  trace?: Record<string, string>;
}

export const JOBS = {
  wavePump: 'wave.pump',
  waveStart: 'wave.start',
  waveBakeEnd: 'wave.bake-end',
  waveWindow: 'wave.window',
  operationRun: 'operation.run',
} as const;

export type JobName = (typeof JOBS)[keyof typeof JOBS];

export interface JobPayloads {
  'wave.pump': WavePumpJob;
  'wave.start': WaveStartJob;
  'wave.bake-end': WaveBakeEndJob;
  'wave.window': WaveWindowJob;
  'operation.run': OperationJob;
}

export const JOB_QUEUE: Record<JobName, (typeof QUEUES)[keyof typeof QUEUES]> = {
  'wave.pump': QUEUES.waves,
  'wave.start': QUEUES.waves,
  'wave.bake-end': QUEUES.waves,
  'wave.window': QUEUES.waves,
  'operation.run': QUEUES.support,
};

/** Job ids: deterministic (so re-adding is a no-op while the job exists), no ':' and never all digits. */
export const jobIds = {
  wavePump: (j: WavePumpJob) => `pump-${j.kind}-${j.waveId}-g${j.generation}-s${j.slot}`,
  waveStart: (waveId: string, version: number) => `start-${waveId}-v${version}`,
  waveBakeEnd: (waveId: string, step: number) => `bake-${waveId}-s${step}`,
  /** One per wave and edge instant: the workers that arm the same edge add one job. */
  waveWindow: (waveId: string, at: Date) => `window-${waveId}-t${at.getTime()}`,
  operationRun: (operationId: string) => `op-${operationId}`,
};

/** Default options per job. Removed when done so the reconciler may re-add the same id later. */
export const JOB_OPTIONS: Record<JobName, JobsOptions> = {
  // A pump that throws (database or Redis trouble) retries with backoff; after that the reconciler re-adds it.
  'wave.pump': {
    attempts: 5,
    backoff: { type: 'exponential', delay: 1000 },
    removeOnComplete: true,
    removeOnFail: true,
  },
  'wave.start': {
    attempts: 10,
    backoff: { type: 'exponential', delay: 1000 },
    removeOnComplete: true,
    removeOnFail: true,
  },
  'wave.bake-end': {
    attempts: 10,
    backoff: { type: 'exponential', delay: 1000 },
    removeOnComplete: true,
    removeOnFail: true,
  },
  'wave.window': {
    attempts: 10,
    backoff: { type: 'exponential', delay: 1000 },
    removeOnComplete: true,
    removeOnFail: true,
  },
  'operation.run': {
    attempts: 5,
    backoff: { type: 'exponential', delay: 500 },
    removeOnComplete: true,
    removeOnFail: true,
  },
};

/** Worker settings: a job whose worker died is noticed within ~stalledInterval and taken over. */
export const WORKER_SETTINGS = {
  stalledIntervalMs: 5000,
  lockDurationMs: 10000,
  maxStalledCount: 1000,
};
