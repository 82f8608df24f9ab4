import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import {
  batchCount,
  effectiveBatchSize,
  FieldErrors,
  normalizeSteps,
  projectedDuration,
  ProjectedDuration,
  RampStep,
  SkipReason,
  stepLimits,
  WAVE_STATES,
  WaveState,
} from '@app/domain';
import { WaveEntity } from '@app/db';
import { NotFoundError, ValidationError } from '../errors';

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
  batchSize: number;
  batches: number;
  ratePerSecond: number;
  projectedDuration: ProjectedDuration;
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
  constructor(
    private readonly dataSource: DataSource,
    private readonly incidentAt: Date,
  ) {}

  async list(query: WaveListQuery = {}): Promise<WavePage> {
    const f = new FieldErrors();
    if (query.state !== undefined) f.oneOf('state', query.state, WAVE_STATES);
    const limit = query.limit ?? 50;
    f.integerIn('limit', limit, 1, 200);
    const after = query.cursor === undefined ? null : decodeCursor(query.cursor);
    if (query.cursor !== undefined && !after) f.add('cursor', 'must be a cursor from a previous page');
    if (f.errors.length) throw new ValidationError(f.errors);
    const qb = this.dataSource
      .getRepository(WaveEntity)
      .createQueryBuilder('w')
      // Milliseconds: the cursor carries a JS Date, and PostgreSQL keeps microseconds.
      .orderBy(`date_trunc('milliseconds', w.created_at)`, 'DESC')
      .addOrderBy('w.id', 'DESC')
      .take(limit + 1);
    if (query.state) qb.andWhere('w.state = :state', { state: query.state });
    if (after)
      qb.andWhere(`(date_trunc('milliseconds', w.created_at), w.id) < (:at, :id)`, { at: after.at, id: after.id });
    const rows = await qb.getMany();
    const items = rows.slice(0, limit);
    const last = items[items.length - 1];
    return { items, nextCursor: rows.length > limit && last ? encodeCursor(last) : null };
  }

  async get(id: string): Promise<WaveEntity> {
    const wave = UUID.test(id) ? await this.dataSource.getRepository(WaveEntity).findOne({ where: { id } }) : null;
    if (!wave) throw new NotFoundError('wave', id);
    return wave;
  }

  async preview(id: string): Promise<WavePreview> {
    const wave = await this.get(id);
    const frozen = wave.memberCount !== null;
    const { scope, params } = frozen ? pendingMembers(wave) : selectorScope(wave);
    const off = wave.protocols.map((p) => `NOT a.${p === 'imap' ? 'imap_enabled' : 'pop3_enabled'}`).join(' OR ');
    // The same precedence as decideEligibility: held, then password_reset_required, then already_enabled.
    const rows = await this.dataSource.query<{ outcome: string; n: string }[]>(
      `SELECT CASE
                WHEN a.held THEN 'held'
                WHEN a.leaked AND (a.password_changed_at IS NULL OR a.password_changed_at <= $${params.length + 1})
                     AND NOT (btrim(COALESCE(a.override_reason, '')) <> '' AND btrim(COALESCE(a.override_ticket, '')) <> ''
                              AND a.override_expires_at > now())
                  THEN 'password_reset_required'
                WHEN NOT (${off}) THEN 'already_enabled'
                ELSE 'eligible'
              END AS outcome, count(*) AS n
         FROM ${scope}
        GROUP BY 1`,
      [...params, this.incidentAt],
    );
    const count = (o: string) => Number(rows.find((r) => r.outcome === o)?.n ?? 0);
    const skips: Record<SkipReason, number> = {
      held: count('held'),
      password_reset_required: count('password_reset_required'),
      not_found: 0,
      already_enabled: count('already_enabled'),
    };
    const eligible = count('eligible');
    const members = eligible + skips.held + skips.password_reset_required + skips.already_enabled;
    const steps = normalizeSteps(wave.steps);
    const limits = stepLimits(members, steps);
    const batchSize = effectiveBatchSize(wave.batchSize, wave.ratePerSecond);
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
      projectedDuration:
        eligible > 0
          ? projectedDuration(eligible, wave.ratePerSecond, steps, { batchSize: wave.batchSize })
          : { totalSeconds: 0, sendingSeconds: 0, bakeSeconds: 0 },
      steps: steps.map((s, i) => ({ ...s, memberLimit: limits[i] ?? 0 })),
      incidentAt: this.incidentAt,
    };
  }
}

/** The accounts WaveCommandsService.freezeMembership would select (same predicates). */
function selectorScope(wave: WaveEntity): { scope: string; params: unknown[] } {
  const s = wave.selector;
  if (s.type === 'cohorts') return { scope: 'accounts a WHERE a.cohorts && $1::text[]', params: [s.cohorts] };
  if (s.type === 'logins') {
    return { scope: 'accounts a WHERE a.login = ANY($1::text[])', params: [s.logins.map((l) => l.toLowerCase())] };
  }
  const any = wave.protocols.map((p) => `NOT a.${p === 'imap' ? 'imap_enabled' : 'pop3_enabled'}`).join(' OR ');
  return { scope: `accounts a WHERE (${any})`, params: [] };
}

function pendingMembers(wave: WaveEntity): { scope: string; params: unknown[] } {
  return {
    scope: `wave_members m JOIN accounts a ON a.id = m.account_id WHERE m.wave_id = $1 AND m.state = 'pending'`,
    params: [wave.id],
  };
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
