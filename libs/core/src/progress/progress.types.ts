import { GateAction, GateMetric, GateStatus, MemberCount, ProgressView, WaveState } from '@app/domain';

/** One gate of a wave as dashboards see it: its settings and the gate evaluator's latest verdict on it. */
export interface GateView {
  name: string;
  metric: GateMetric;
  action: GateAction;
  /** null for a prometheus gate (its conditions decide). */
  threshold: number | null;
  /** null for a prometheus gate (its query says its window). */
  windowSeconds: number | null;
  /** Prometheus gates: the query and how often it is measured (every measurement: GET /waves/{id}/gate-measurements). */
  query?: string;
  intervalSeconds?: number;
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
  rate: { observedPerSecond: number; targetPerSecond: number; windowSeconds: number };
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

export interface ProgressOverview {
  asOf: Date;
  waves: WaveProgress[];
  totals: { waves: Partial<Record<WaveState, number>>; members: Record<MemberCount, number> };
}

/** Waves GET /progress lists: active ones, and finished ones for a day so dashboards show how they ended. */
export const OVERVIEW_RECENT_HOURS = 24;
/** Observed rate: accounts sent in completed batches over at most this many seconds. */
export const RATE_WINDOW_SECONDS = 60;
