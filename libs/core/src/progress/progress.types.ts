import {
  GateAction,
  GateMetric,
  GateStatus,
  GateUnit,
  MemberCount,
  ProgressView,
  SlowReason,
  WaveState,
} from '@app/domain';

/** One gate of a wave as dashboards see it: its settings and the gate evaluator's latest verdict on it. */
export interface GateView {
  name: string;
  metric: GateMetric;
  action: GateAction;
  /** What value and threshold are measured in: `fraction` (0.05 = 5 %), `ms`, `per_minute`, `number`. */
  unit: GateUnit;
  /** null for a prometheus gate (its conditions decide). */
  threshold: number | null;
  /** Signals and login metrics: breached only above `factor` × the control cohort's value (`control`). */
  relativeTo?: { cohort: string; factor: number };
  /** null for a prometheus gate (its query says its window). */
  windowSeconds: number | null;
  /** Prometheus gates: the query and how often it is measured (every measurement: GET /waves/{id}/gate-measurements). */
  query?: string;
  intervalSeconds?: number;
  successCondition?: string;
  failureCondition?: string;
  /** `not_evaluated` until the evaluator (which watches running waves) has looked at the gate. */
  status: GateStatus | 'not_evaluated';
  value: number | null;
  control: number | null;
  reason: string;
  /** When the evaluator produced this verdict (it keeps the last one when the wave stops running). */
  evaluatedAt: Date | null;
}

/** Where the ramp stands. Indexes are 0-based, like `waves.current_step`. */
export interface StepView {
  index: number;
  count: number;
  /** Cumulative share of the membership this step reaches. */
  percent: number;
  /** Member sequence the step ends at (null before the membership is frozen). */
  memberLimit: number | null;
  bakeUntil: Date | null;
  bakeSecondsLeft: number | null;
}

export interface WaveProgress extends Omit<ProgressView, 'rate'> {
  waveId: string;
  name: string;
  state: WaveState;
  /** Machine-readable reason (`ops`, `ramp_bake`, `gate:<name>`, …) or null. */
  statusReason: string | null;
  /** One sentence: why the wave is in this state. */
  statusText: string;
  statusDetail: Record<string, unknown> | null;
  protocols: string[];
  rate: {
    /** Accounts per second sent in the last `windowSeconds` (completed batches). */
    observedPerSecond: number;
    /** The rate now: the observed one while the wave sends (running, rolling back), null when it does not. */
    currentPerSecond: number | null;
    targetPerSecond: number;
    windowSeconds: number;
  };
  /** Why the wave sends below its set rate, and the most it can send now. */
  pace: PaceView;
  /** When the wave should be done at the rate it goes; null when it is not moving (paused, finished …). */
  etaAt: Date | null;
  step: StepView;
  gates: GateView[];
  /** Accounts this wave opened that were closed again after a credential-stuffing burst (its `reclose`). */
  reclosed: number;
  startAt: Date | null;
  startedAt: Date | null;
  completedAt: Date | null;
  rollbackStartedAt: Date | null;
  rollbackCompletedAt: Date | null;
  /** The wave row's version: moves on every command or setting change. */
  version: number;
  /** The database clock when this view was read. */
  asOf: Date;
}

/** The engine's shared pace and the mailstore's limit as they bear on one wave (domain explainPace). */
export interface PaceView {
  /** Share of the set rates the shared pace allows after the mailstore's 429/503s (1: full); null: unreadable now. */
  factor: number | null;
  /** Seconds every sender still waits for the mailstore's Retry-After (0: none); null: unreadable now. */
  retryAfterSeconds: number | null;
  /** The mailstore's advertised account updates per second (its capabilities); null until a worker read them. */
  mailstoreRatePerSecond: number | null;
  capabilitiesReadAt: Date | null;
  /** The most the engine can send for this wave now, accounts/s; null when the wave is not sending. */
  ceilingPerSecond: number | null;
  /** What holds the wave below its set rate, first the most pressing; empty when nothing does or it is not sending. */
  slowReasons: SlowReason[];
}

/** A wave's sending rate over its whole run, for a chart that a reload or a newcomer sees whole. */
export interface RateHistory {
  waveId: string;
  /** Width of each sample; grows with the wave's age so there are at most HISTORY_MAX_SAMPLES samples. */
  bucketSeconds: number;
  /** The wave's first start (null: never started, no samples). */
  from: Date | null;
  /** The end of the last sample: now while the wave is active, its last batch once it is finished. */
  to: Date | null;
  samples: RateSample[];
  asOf: Date;
}

export interface RateSample {
  /** Start of the bucket. */
  at: Date;
  /** Accounts per second sent in the bucket (completed batches), forward and rollback. */
  forwardPerSecond: number;
  rollbackPerSecond: number;
}

export interface ProgressOverview {
  asOf: Date;
  waves: WaveProgress[];
  totals: { waves: Partial<Record<WaveState, number>>; members: Record<MemberCount, number> };
}

/** Waves GET /progress lists: active ones, and finished ones for a day so dashboards show how they ended. */
export const OVERVIEW_RECENT_HOURS = 24;
/** Observed rate: accounts sent in completed batches over at most this many seconds. */
export const RATE_WINDOW_SECONDS = 60;
