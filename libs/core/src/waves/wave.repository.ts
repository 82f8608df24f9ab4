import { DataSource, EntityManager } from 'typeorm';
import {
  ApprovalPolicy,
  EligibilityOutcome,
  eligibilityOutcomeSql,
  Gate,
  ReclosePolicy,
  PauseReason,
  Protocol,
  RampStep,
  ScheduleApproval,
  TimeWindows,
  WaveState,
} from '@app/domain';
import { WaveEntity } from '@app/db';
import { Sql } from '../db/sql';
import { SqlParams } from '../db/sql-params';
import { selectorWhereSql } from './wave-selector';
import { UpdateWaveInput } from './wave.types';

/** What the preview needs of the mailstore's capabilities, as a worker last recorded them. */
export interface MailstoreLimits {
  /** min(maxBatchItems, accountUpdateBurst). */
  batchSizeLimit: number;
  accountUpdatesPerSecond: number;
  readAt: Date;
}

/** A wave as a lifecycle command reads it, under its row lock. */
export interface WaveRow {
  id: string;
  state: WaveState;
  status_reason: string | null;
  selector: WaveEntity['selector'];
  protocols: Protocol[];
  steps: RampStep[];
  current_step: number;
  member_count: number | null;
  start_at: Date | null;
  concurrency: number;
  generation: number;
  version: number;
  windows: TimeWindows | null;
  rate_per_second: number;
  approval_policy: ApprovalPolicy | null;
  /** The guards an update may take away (weakensGuards). */
  gates: Gate[];
  reclose: ReclosePolicy | null;
}

/** A new wave's values (wave-command-plan.ts's newWave). */
export type NewWave = Pick<
  WaveEntity,
  | 'name'
  | 'description'
  | 'selector'
  | 'protocols'
  | 'startLocal'
  | 'timeZone'
  | 'startAt'
  | 'ratePerSecond'
  | 'rollbackRatePerSecond'
  | 'batchSize'
  | 'concurrency'
  | 'steps'
  | 'createdBy'
  | 'reclose'
  | 'windows'
> & { gates: Gate[]; approvalPolicy: ApprovalPolicy | null };

/**
 * What an update changes (the input's settings as given; the start as one change: local time, zone and instant); a
 * field left undefined keeps its value.
 */
export type WaveChanges = Omit<UpdateWaveInput, 'startLocal' | 'timeZone' | 'description' | 'approvalPolicy'> & {
  description?: string | null;
  approvalPolicy?: ApprovalPolicy | null;
  start?: { startLocal: string; timeZone: string | null; startAt: Date | null };
};

/** The state a lifecycle command writes (wave-command-plan.ts's CommandPlan). */
export interface WaveTransitionWrite {
  to: WaveState;
  pauseReason: PauseReason | null;
  generation: number;
  /** The ramp moves on to its next step (a bake ended). */
  nextStep: boolean;
}

/** The eligible-set digest of no account (eligibilityWithDigest). */
const EMPTY_DIGEST = '0000000000000000';

/**
 * The statements on waves, for the commands and the read side. SQL only: what to write is decided by
 * wave-command-plan.ts and WaveCommandsService. Each method runs on the executor it is given (the command's
 * transaction) unless it says it runs on the pool.
 */
export class WaveRepository {
  constructor(private readonly dataSource: DataSource) {}

  async insert(m: EntityManager, wave: NewWave): Promise<WaveEntity> {
    return m.save(m.create(WaveEntity, { ...wave, gates: wave.gates as unknown as Record<string, unknown>[] }));
  }

  /**
   * The wave row's lock orders commands among themselves and with send permits (FOR SHARE SKIP LOCKED: a permit
   * never makes a command wait longer than its one statement, and fails rather than wait for a command).
   * NO KEY UPDATE, not UPDATE: pumps insert batch and counter rows that reference the wave (FOR KEY SHARE);
   * a full FOR UPDATE here would deadlock with a claim whose member rows this command then waits for.
   */
  async lockForCommand(sql: Sql, id: string): Promise<WaveRow | undefined> {
    const [wave] = await sql<WaveRow>(
      `SELECT id, state, status_reason, selector, protocols, steps, current_step, member_count, start_at,
              concurrency, generation, version, windows, rate_per_second, approval_policy, gates, reclose
         FROM waves WHERE id = $1 FOR NO KEY UPDATE`,
      [id],
    );
    return wave;
  }

  /** Writes the changed settings and moves the version on. */
  async update(sql: Sql, id: string, changes: WaveChanges): Promise<void> {
    const set: string[] = [];
    const p = new SqlParams();
    const put = (column: string, value: unknown) => {
      if (value !== undefined) set.push(`${column} = ${p.add(value)}`);
    };
    put('name', changes.name);
    put('description', changes.description);
    put('rate_per_second', changes.ratePerSecond);
    put('rollback_rate_per_second', changes.rollbackRatePerSecond);
    put('batch_size', changes.batchSize);
    put('concurrency', changes.concurrency);
    put('gates', changes.gates === undefined ? undefined : JSON.stringify(changes.gates));
    put('reclose', changes.reclose ? JSON.stringify(changes.reclose) : changes.reclose);
    put('steps', changes.steps === undefined ? undefined : JSON.stringify(changes.steps));
    put('windows', changes.windows ? JSON.stringify(changes.windows) : changes.windows);
    put('approval_policy', changes.approvalPolicy ? JSON.stringify(changes.approvalPolicy) : changes.approvalPolicy);
    if (changes.start) {
      set.push(`start_local = ${p.add(changes.start.startLocal)}`, `time_zone = ${p.add(changes.start.timeZone)}`);
      set.push(`start_at = ${p.add(changes.start.startAt)}`);
    }
    await sql(
      `UPDATE waves SET ${set.join(', ')}, version = version + 1, updated_at = now() WHERE id = ${p.add(id)}`,
      p.values,
    );
  }

  async recordScheduleFired(sql: Sql, id: string, latenessMs: number): Promise<void> {
    await sql(`UPDATE waves SET schedule_fired_at = now(), schedule_lateness_ms = $2 WHERE id = $1`, [id, latenessMs]);
  }

  /** The values a gate or the engine saw when it paused or halted the wave. */
  async setStatusDetail(sql: Sql, id: string, detail: Record<string, unknown>): Promise<void> {
    await sql(`UPDATE waves SET status_detail = $2 WHERE id = $1`, [id, JSON.stringify(detail)]);
  }

  /** What the wave's schedule was approved on (the fire checks it), or null: a runtime column, outside any plan. */
  async setScheduleApproval(sql: Sql, id: string, approval: ScheduleApproval | null): Promise<void> {
    await sql(`UPDATE waves SET schedule_approval = $2 WHERE id = $1`, [id, approval && JSON.stringify(approval)]);
  }

  /** A finished rollback's outcomes from its counters (`rollback:<state>`), for its audit row and notification. */
  async rollbackOutcomes(sql: Sql, id: string): Promise<{ restored: number; conflicts: number; failed: number }> {
    const [row] = await sql<{ restored: string; conflicts: string; failed: string }>(
      `SELECT coalesce(sum(value) FILTER (WHERE name = 'rollback:rolled_back'), 0) AS restored,
              coalesce(sum(value) FILTER (WHERE name = 'rollback:conflict'), 0) AS conflicts,
              coalesce(sum(value) FILTER (WHERE name = 'rollback:failed'), 0) AS failed
         FROM wave_counters WHERE wave_id = $1 AND name IN ('rollback:rolled_back', 'rollback:conflict', 'rollback:failed')`,
      [id],
    );
    return { restored: Number(row.restored), conflicts: Number(row.conflicts), failed: Number(row.failed) };
  }

  /** Starts a ramp step's bake; returns when it ends. */
  async startBake(sql: Sql, id: string, bakeSeconds: number): Promise<Date> {
    const [row] = await sql<{ bake_until: Date }>(
      `UPDATE waves SET bake_until = now() + ($2 || ' seconds')::interval WHERE id = $1 RETURNING bake_until`,
      [id, String(bakeSeconds)],
    );
    return row.bake_until;
  }

  /** A lifecycle command's new state, with the timestamps and fields each state implies. */
  async writeTransition(sql: Sql, id: string, t: WaveTransitionWrite): Promise<void> {
    await sql(
      `UPDATE waves SET state = $2, status_reason = $3, generation = $4, version = version + 1, updated_at = now(),
              status_detail = CASE WHEN $3::text IS NULL THEN NULL ELSE status_detail END,
              bake_until = CASE WHEN $2 = 'paused' AND $3 = 'ramp_bake' THEN bake_until ELSE NULL END,
              started_at = CASE WHEN $2 = 'running' THEN COALESCE(started_at, now()) ELSE started_at END,
              completed_at = CASE WHEN $2 IN ('completed', 'cancelled') THEN now() ELSE completed_at END,
              rollback_started_at = CASE WHEN $2 = 'rolling_back' THEN COALESCE(rollback_started_at, now()) ELSE rollback_started_at END,
              rollback_completed_at = CASE WHEN $2 = 'rolled_back' THEN now() ELSE rollback_completed_at END
              ${t.nextStep ? ', current_step = current_step + 1' : ''}
        WHERE id = $1`,
      [id, t.to, t.pauseReason, t.generation],
    );
  }

  /** Waves newest first, after the keyset `after` (creation to the millisecond, id), on the pool. */
  async page(
    filter: { state?: WaveState; after?: { at: Date; id: string } | null },
    limit: number,
  ): Promise<WaveEntity[]> {
    const qb = this.dataSource
      .getRepository(WaveEntity)
      .createQueryBuilder('w')
      // Milliseconds: the cursor carries a JS Date, and PostgreSQL keeps microseconds.
      .orderBy(`date_trunc('milliseconds', w.created_at)`, 'DESC')
      .addOrderBy('w.id', 'DESC')
      .take(limit);
    if (filter.state) qb.andWhere('w.state = :state', { state: filter.state });
    const after = filter.after;
    if (after)
      qb.andWhere(`(date_trunc('milliseconds', w.created_at), w.id) < (:at, :id)`, { at: after.at, id: after.id });
    return qb.getMany();
  }

  async findById(id: string): Promise<WaveEntity | null> {
    return this.dataSource.getRepository(WaveEntity).findOne({ where: { id } });
  }

  /**
   * How many accounts a start would take now (its selector), or of a frozen membership how many are still pending,
   * per eligibility outcome: the domain's decideEligibility as its SQL twin (eligibilityOutcomeSql), one GROUP BY
   * (on the pool, or on `sql` when given: an approval check counts in its command's transaction). Overrides are judged
   * live now.
   */
  async eligibilityCounts(
    wave: Pick<WaveEntity, 'id' | 'memberCount' | 'selector' | 'protocols'>,
    incidentAt: Date,
    sql: Sql = (text, params) => this.dataSource.query(text, params),
  ): Promise<Map<EligibilityOutcome, number>> {
    return (await this.eligibility(wave, incidentAt, sql, false)).byOutcome;
  }

  /**
   * eligibilityCounts with who is eligible, as an approval binds it (wave-approvals.ts): a digest of the eligible
   * accounts, the XOR of a 64-bit hash of each id (order-free, one pass, no list kept), so that a population that
   * swapped accounts at the same counts (one leaked, another reset) is not the one approved.
   */
  async eligibilityWithDigest(
    wave: Pick<WaveEntity, 'id' | 'memberCount' | 'selector' | 'protocols'>,
    incidentAt: Date,
    sql: Sql,
  ): Promise<{ byOutcome: Map<EligibilityOutcome, number>; eligibleDigest: string }> {
    const { byOutcome, digests } = await this.eligibility(wave, incidentAt, sql, true);
    return { byOutcome, eligibleDigest: digests.get('eligible') ?? EMPTY_DIGEST };
  }

  private async eligibility(
    wave: Pick<WaveEntity, 'id' | 'memberCount' | 'selector' | 'protocols'>,
    incidentAt: Date,
    sql: Sql,
    digest: boolean,
  ) {
    const { values, add } = new SqlParams();
    const scope =
      wave.memberCount !== null
        ? `wave_members m JOIN accounts a ON a.id = m.account_id WHERE m.wave_id = ${add(wave.id)} AND m.state = 'pending'`
        : `accounts a WHERE ${selectorWhereSql(wave.selector, wave.protocols, add)}`;
    const outcome = eligibilityOutcomeSql(wave.protocols, { incidentAt: add(incidentAt), overrideAt: 'now()' });
    const digestSql = digest ? `lpad(to_hex(bit_xor(hashtextextended(a.id::text, 0))), 16, '0')` : 'NULL';
    const rows = await sql<{ outcome: EligibilityOutcome; n: string; digest: string | null }>(
      `SELECT ${outcome} AS outcome, count(*) AS n, ${digestSql} AS digest FROM ${scope} GROUP BY 1`,
      values,
    );
    return {
      byOutcome: new Map(rows.map((r) => [r.outcome, Number(r.n)])),
      digests: new Map(rows.map((r) => [r.outcome, r.digest ?? EMPTY_DIGEST])),
    };
  }

  /** The stored row as JSON (every column, those added later too): what an approval binds the plan from. */
  async storedRow(sql: Sql, id: string): Promise<Record<string, unknown> | undefined> {
    const [row] = await sql<{ row: Record<string, unknown> }>(`SELECT to_jsonb(w) AS row FROM waves w WHERE id = $1`, [
      id,
    ]);
    return row?.row;
  }

  /** The mailstore's limits as a worker last read them (engine/capabilities.repository.ts), null before any did; on the pool. */
  async mailstoreLimits(): Promise<MailstoreLimits | null> {
    const [row] = await this.dataSource.query<
      { batch_size_limit: number; account_updates_per_second: number; read_at: Date }[]
    >(`SELECT batch_size_limit, account_updates_per_second, read_at FROM mailstore_capabilities WHERE id = 1`);
    return row
      ? {
          batchSizeLimit: row.batch_size_limit,
          accountUpdatesPerSecond: Number(row.account_updates_per_second),
          readAt: row.read_at,
        }
      : null;
  }

  /**
   * Fresh statistics for wave_members after a bulk write, on the pool. Only the owner may ANALYZE: the service's role
   * calls the owner's one-statement function (migration 1764387000000).
   */
  async analyzeMembers(): Promise<void> {
    await this.dataSource.query('SELECT analyze_wave_members()');
  }
}
