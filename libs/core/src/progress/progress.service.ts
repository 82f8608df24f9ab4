import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import {
  acceptsNewCalls,
  isFinished,
  buildProgress,
  explainPace,
  Gate,
  gateUnit,
  GateStatus,
  historyBucketSeconds,
  historyPoints,
  MEMBER_COUNTS,
  MemberCount,
  normalizeSteps,
} from '@app/domain';
import { Sql, sqlOfDataSource } from '../db/sql';
import { NotFoundError } from '../errors';
import { GateMeasurementRepository, StoredMeasurement } from '../gates/gate-measurement.repository';
import { PaceNow, PaceRepository } from './pace.repository';
import { HistoryBoundsRow, ProgressRepository, ProgressRow } from './progress.repository';
import {
  GateView,
  PaceView,
  ProgressOverview,
  RATE_WINDOW_SECONDS,
  RateHistory,
  StepView,
  WaveProgress,
} from './progress.types';
import { describeStatus } from './status-text';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const GATE_STATUSES = new Set<string>(['ok', 'breached', 'insufficient_data', 'inconclusive']);

/**
 * Progress for dashboards, from the incremental counters: one query reads the wave rows, their counter rows and
 * what was sent in the last minute; gate values come from the evaluator's last verdict on the wave row; the shared
 * pace (why a wave is slow) is one Redis read, whatever the number of waves. Cheap enough to poll (O(1) in the size
 * of a wave); the API adds a short shared cache on top.
 */
@Injectable()
export class ProgressService {
  private readonly sql: Sql;

  constructor(
    dataSource: DataSource,
    private readonly repo = new ProgressRepository(),
    private readonly measurements = new GateMeasurementRepository(),
    /** The engine's shared pace in Redis; without it (no Redis given) the pace reads as unknown. */
    private readonly pace?: PaceRepository,
  ) {
    this.sql = sqlOfDataSource(dataSource);
  }

  /** A wave's prometheus gates' measurements, newest first (every run): each evaluation's value is kept. */
  async gateMeasurements(id: string, limit: number): Promise<StoredMeasurement[]> {
    const [row] = UUID.test(id) ? await this.repo.byIds(this.sql, [id]) : [];
    if (!row) throw new NotFoundError('wave', id);
    return this.measurements.recent(this.sql, id, limit);
  }

  async wave(id: string): Promise<WaveProgress> {
    if (!UUID.test(id)) throw new NotFoundError('wave', id);
    const [[row], pace] = await Promise.all([this.repo.byIds(this.sql, [id]), this.readPace()]);
    if (!row) throw new NotFoundError('wave', id);
    return buildWaveProgress(row, pace);
  }

  async overview(): Promise<ProgressOverview> {
    const [rows, pace] = await Promise.all([this.repo.overview(this.sql), this.readPace()]);
    const waves = rows.map((row) => buildWaveProgress(row, pace));
    const members = Object.fromEntries(MEMBER_COUNTS.map((s) => [s, 0])) as Record<MemberCount, number>;
    const states: ProgressOverview['totals']['waves'] = {};
    for (const w of waves) {
      states[w.state] = (states[w.state] ?? 0) + 1;
      for (const s of MEMBER_COUNTS) members[s] += w.counts[s];
    }
    return { asOf: rows[0]?.now ?? new Date(), waves, totals: { waves: states, members } };
  }

  /**
   * A wave's sending rate over its whole run, from its per-batch rows: one range scan of its completed batches,
   * grouped into at most HISTORY_MAX_SAMPLES buckets (the chart a reload or a newcomer sees whole).
   */
  async history(id: string): Promise<RateHistory> {
    const bounds = UUID.test(id) ? await this.repo.historyBounds(this.sql, id) : undefined;
    if (!bounds) throw new NotFoundError('wave', id);
    const from = bounds.started_at;
    const to = from ? historyEnd(bounds) : null;
    if (!from || !to)
      return { waveId: id, bucketSeconds: historyBucketSeconds(0), from, to, samples: [], asOf: bounds.now };
    const span = Math.max(0, (to.getTime() - from.getTime()) / 1000);
    const bucketSeconds = historyBucketSeconds(span);
    const sums = await this.repo.history(this.sql, id, from, bucketSeconds);
    const samples = historyPoints(sums, span, bucketSeconds).map((p) => ({
      at: new Date(from.getTime() + p.offsetSeconds * 1000),
      forwardPerSecond: p.forwardPerSecond,
      rollbackPerSecond: p.rollbackPerSecond,
    }));
    return { waveId: id, bucketSeconds, from, to, samples, asOf: bounds.now };
  }

  private readPace(): Promise<PaceNow | null> {
    return this.pace ? this.pace.now() : Promise.resolve(null);
  }
}

/** Now while the wave may still send; once it is finished, its last batch (or its end, whichever is later). */
function historyEnd(b: HistoryBoundsRow): Date {
  if (!isFinished(b.state)) return b.now;
  const ends = [b.last_batch_at, b.completed_at, b.rollback_completed_at, b.started_at].filter(
    (d): d is Date => d !== null,
  );
  return new Date(Math.max(...ends.map((d) => d.getTime())));
}

/** One wave's progress view from its row (pure: the clock is the database's, read with the row). */
export function buildWaveProgress(row: ProgressRow, paceNow: PaceNow | null = null): WaveProgress {
  const now = row.now;
  const rollingBack = row.state === 'rolling_back';
  const since = rollingBack ? row.rollback_started_at : row.started_at;
  // A wave started 10 s ago has sent over 10 s, not 60: dividing by the full window would under-read. A finished
  // wave's window ends where it ended (rate_until), so its figures stay what they were.
  const windowSeconds = since
    ? Math.min(RATE_WINDOW_SECONDS, Math.max(1, (row.rate_until.getTime() - since.getTime()) / 1000))
    : RATE_WINDOW_SECONDS;
  const observed = Number(row.recent_sent) / windowSeconds;
  const target = rollingBack ? row.rollback_rate_per_second : row.rate_per_second;
  const view = buildProgress(row.counters, {
    observedRatePerSecond: observed,
    targetRatePerSecond: target,
    state: row.state,
    awaitingRetry: { forward: Number(row.parked_forward), rollback: Number(row.parked_rollback) },
    statusReason: row.status_reason,
    windows: row.windows ? { windows: row.windows, now } : null,
  });
  const step = stepOf(row, now);
  const gates = gatesOf(row);
  const sending = acceptsNewCalls(row.state);
  const mailstoreRate =
    row.mailstore_rate === null || row.mailstore_rate === undefined ? null : Number(row.mailstore_rate);
  const explained = explainPace({
    state: row.state,
    targetPerSecond: target,
    mailstoreRatePerSecond: mailstoreRate,
    factor: paceNow?.factor ?? null,
    blockedMs: paceNow?.blockedMs ?? null,
  });
  const pace: PaceView = {
    factor: paceNow ? round(paceNow.factor, 2) : null,
    // Whole seconds, rounded up: the view (and its ETag) changes once a second at most while a wait runs.
    retryAfterSeconds: paceNow ? Math.ceil(paceNow.blockedMs / 1000) : null,
    mailstoreRatePerSecond: mailstoreRate,
    capabilitiesReadAt: row.capabilities_read_at ?? null,
    ceilingPerSecond: explained.ceilingPerSecond,
    slowReasons: explained.reasons,
  };
  return {
    waveId: row.id,
    name: row.name,
    state: row.state,
    statusReason: row.status_reason,
    statusText: describeStatus({
      state: row.state,
      statusReason: row.status_reason,
      statusDetail: row.status_detail,
      startAt: row.start_at,
      bakeUntil: row.bake_until,
      step,
      gates,
      now,
    }),
    statusDetail: row.status_detail,
    protocols: row.protocols,
    ...view,
    rate: {
      observedPerSecond: round(observed, 2),
      currentPerSecond: sending ? round(observed, 2) : null,
      targetPerSecond: target,
      windowSeconds: round(windowSeconds, 1),
    },
    pace,
    // A finished wave has no ETA to show (its etaSeconds stays 0: nothing left); a stopped one has none (null) unless
    // it waits for its time window.
    etaAt: view.etaSeconds === null || isFinished(row.state) ? null : new Date(now.getTime() + view.etaSeconds * 1000),
    step,
    gates,
    reclosed: row.reclosed ?? 0,
    startAt: row.start_at,
    startedAt: row.started_at,
    completedAt: row.completed_at,
    rollbackStartedAt: row.rollback_started_at,
    rollbackCompletedAt: row.rollback_completed_at,
    version: row.version,
    asOf: now,
  };
}

/** Each configured gate with the evaluator's last verdict on it (by gate name), if any. */
function gatesOf(row: ProgressRow): GateView[] {
  const verdicts = new Map<string, Record<string, unknown>>();
  for (const v of row.gate_state ?? []) if (typeof v.gate === 'string') verdicts.set(v.gate, v);
  return (row.gates as unknown as Gate[]).map((g) => {
    const v = verdicts.get(g.name);
    const status = typeof v?.status === 'string' && GATE_STATUSES.has(v.status) ? (v.status as GateStatus) : null;
    return {
      name: g.name,
      metric: g.metric,
      action: g.action,
      unit: gateUnit(g.metric),
      threshold: g.threshold ?? null,
      ...(g.relativeTo ? { relativeTo: g.relativeTo } : {}),
      windowSeconds: g.windowSeconds ?? null,
      ...(g.metric === 'prometheus'
        ? {
            query: g.query,
            intervalSeconds: g.intervalSeconds,
            ...(g.successCondition ? { successCondition: g.successCondition } : {}),
            ...(g.failureCondition ? { failureCondition: g.failureCondition } : {}),
          }
        : {}),
      status: status ?? 'not_evaluated',
      value: typeof v?.value === 'number' ? v.value : null,
      control: typeof v?.control === 'number' ? v.control : null,
      reason: typeof v?.reason === 'string' ? v.reason : 'not evaluated yet (gates are watched while the wave runs)',
      evaluatedAt: status ? row.gate_evaluated_at : null,
    };
  });
}

function stepOf(row: ProgressRow, now: Date): StepView {
  const steps = normalizeSteps(row.steps);
  const index = Math.min(row.current_step, steps.length - 1);
  const baking = row.state === 'paused' && row.status_reason === 'ramp_bake' && row.bake_until !== null;
  return {
    index,
    count: steps.length,
    percent: steps[index].percent,
    memberLimit: row.step_limit_seq,
    bakeUntil: baking ? row.bake_until : null,
    bakeSecondsLeft: baking ? Math.max(0, Math.ceil((row.bake_until!.getTime() - now.getTime()) / 1000)) : null,
  };
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
