import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import {
  batchCount,
  EligibilityOutcome,
  FieldErrors,
  normalizeSteps,
  projectedDuration,
  ProjectedDuration,
  RampStep,
  sendBatchSize,
  sendingRate,
  SKIP_REASONS,
  SkipReason,
  stepLimits,
  WAVE_STATES,
  WaveState,
  windowedProjection,
} from '@app/domain';
import { WaveEntity } from '@app/db';
import { NotFoundError, ValidationError } from '../errors';
import { MailstoreLimits, WaveRepository } from './wave.repository';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface WaveListQuery {
  state?: WaveState;
  /** Keyset cursor from the previous page (opaque). */
  cursor?: string;
  limit?: number;
}

export interface WavePage {
  items: WaveEntity[];
  nextCursor: string | null;
}

export interface WavePreview {
  waveId: string;
  /** `selector`: who a start now would freeze; `pending_members`: what is left of a frozen membership. */
  scope: 'selector' | 'pending_members';
  protocols: string[];
  members: number;
  eligible: number;
  /** By reason; `not_found` is only known once the mailstore answers, so a preview never counts it. */
  skips: Record<SkipReason, number>;
  /** Accounts per batch call as the engine sends them (the pumps' sendBatchSize on the same figures). */
  batchSize: number;
  /** Batch calls the engine will make. */
  batches: number;
  ratePerSecond: number;
  /** The mailstore's limits the batches and the duration were computed with; null before a worker read them. */
  mailstore: MailstoreLimits | null;
  /** At the rate the engine reaches: the wave's, or the mailstore's advertised update rate when lower. */
  projectedDuration: ProjectedDuration;
  /**
   * With time windows (null without): when the wave would end if it began at its start time (or now, when that has
   * passed or there is none), sending only inside its windows, bakes in wall time; projectedEndAt null: never.
   */
  windowed: { from: Date; projectedEndAt: Date | null; totalSeconds: number | null } | null;
  /** Cumulative member limits of the ramp steps over `members`. */
  steps: (RampStep & { memberLimit: number })[];
  incidentAt: Date;
}

/**
 * Read side of waves: list, get, and the preview (a dry run in SQL over the same selector the start freezes,
 * counting eligibility by reason with GROUP BY; it never calls the mailstore and writes nothing).
 */
@Injectable()
export class WaveQueryService {
  private readonly waves: WaveRepository;

  constructor(
    dataSource: DataSource,
    private readonly incidentAt: Date,
  ) {
    this.waves = new WaveRepository(dataSource);
  }

  async list(query: WaveListQuery = {}): Promise<WavePage> {
    const f = new FieldErrors();
    if (query.state !== undefined) f.oneOf('state', query.state, WAVE_STATES);
    const limit = query.limit ?? 50;
    f.integerIn('limit', limit, 1, 200);
    const after = query.cursor === undefined ? null : decodeCursor(query.cursor);
    if (query.cursor !== undefined && !after) f.add('cursor', 'must be a cursor from a previous page');
    if (f.errors.length) throw new ValidationError(f.errors);
    const rows = await this.waves.page({ state: query.state, after }, limit + 1);
    const items = rows.slice(0, limit);
    const last = items[items.length - 1];
    return { items, nextCursor: rows.length > limit && last ? encodeCursor(last) : null };
  }

  async get(id: string): Promise<WaveEntity> {
    const wave = UUID.test(id) ? await this.waves.findById(id) : null;
    if (!wave) throw new NotFoundError('wave', id);
    return wave;
  }

  async preview(id: string): Promise<WavePreview> {
    const wave = await this.get(id);
    const frozen = wave.memberCount !== null;
    const counts = await this.waves.eligibilityCounts(wave, this.incidentAt);
    const count = (o: EligibilityOutcome) => counts.get(o) ?? 0;
    const skips = Object.fromEntries(SKIP_REASONS.map((r) => [r, count(r)])) as Record<SkipReason, number>;
    const eligible = count('eligible');
    const members = eligible + SKIP_REASONS.reduce((sum, r) => sum + skips[r], 0);
    const steps = normalizeSteps(wave.steps);
    const limits = stepLimits(members, steps);
    const mailstore = await this.waves.mailstoreLimits();
    const batchSize = sendBatchSize(wave.batchSize, wave.ratePerSecond, mailstore?.batchSizeLimit);
    const rate = sendingRate(wave.ratePerSecond, mailstore?.accountUpdatesPerSecond);
    const now = new Date();
    const from = !frozen && wave.startAt && wave.startAt > now ? wave.startAt : now;
    return {
      waveId: wave.id,
      scope: frozen ? 'pending_members' : 'selector',
      protocols: wave.protocols,
      members,
      eligible,
      skips,
      batchSize,
      batches: batchCount(eligible, batchSize, steps),
      ratePerSecond: wave.ratePerSecond,
      mailstore,
      projectedDuration:
        eligible > 0
          ? projectedDuration(eligible, rate, steps)
          : { totalSeconds: 0, sendingSeconds: 0, bakeSeconds: 0 },
      windowed: wave.windows ? windowedProjection(wave.windows, from, eligible, rate, steps) : null,
      steps: steps.map((s, i) => ({ ...s, memberLimit: limits[i] ?? 0 })),
      incidentAt: this.incidentAt,
    };
  }
}

function encodeCursor(w: WaveEntity): string {
  return Buffer.from(`${w.createdAt.toISOString()}|${w.id}`).toString('base64url');
}

/**
 * Only a cursor this service could have made: canonical base64url of `<ISO instant, years 0000–9999>|<uuid>`. A
 * forged one (a JS date PostgreSQL cannot hold, such as year -271821) reached the query as a generic invalid_input.
 */
export function decodeCursor(cursor: string): { at: Date; id: string } | null {
  const parts = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  if (parts.length !== 2) return null;
  const [at, id] = parts;
  const date = new Date(at);
  if (!UUID.test(id) || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(at) || Number.isNaN(date.getTime())) {
    return null;
  }
  if (date.toISOString() !== at || Buffer.from(`${at}|${id}`).toString('base64url') !== cursor) return null;
  return { at: date, id };
}
