import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import {
  dispatchedKind,
  isDispatchState,
  PauseReason,
  Protocol,
  RampStep,
  transition,
  TransitionContext,
  WaveCommand,
  WaveState,
} from '@app/domain';
import { WaveEntity } from '@app/db';
import { QueueProducer } from '@app/queue';
import { IllegalTransitionError, NotFoundError } from '../errors';
import { nudge } from '../queue-nudge';
import { SendPermitFence } from '../permits';
import { audit } from '../db/audit-log';
import { Sql, sqlOfDataSource } from '../db/sql';
import { SqlParams } from '../db/sql-params';
import { withTransaction } from '../db/transaction';
import { advanceStep, cancelPending, countRollback, freezeMembership } from './wave-membership.repository';
import { validateWaveInput } from './wave-validation';
import { CreateWaveInput, UpdateWaveInput, WAVE_DEFAULTS } from './wave.types';

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
}

export interface CommandResult {
  id: string;
  from: WaveState;
  state: WaveState;
  noop: boolean;
}

type AfterCommit = (() => Promise<void>)[];

/**
 * Every change of a wave's lifecycle, for ops (API), the scheduler, the ramp and the gates. Each command runs in
 * one transaction holding the wave's row lock; a command that stops dispatch then waits for the send permits
 * granted before its commit to pass their deadline, so once a pause returns no new call can start (invariant 3),
 * and it never waits on a worker (a frozen one included).
 * Queue side effects (pumps, delayed jobs) are added after commit, as nudges: when Redis is unreachable the command
 * still answers (the API's producer fails fast) and the worker's reconciler adds them from PostgreSQL.
 */
@Injectable()
export class WaveCommandsService {
  private readonly fence = new SendPermitFence();

  constructor(
    private readonly dataSource: DataSource,
    private readonly producer: QueueProducer,
  ) {}

  async create(input: CreateWaveInput, actor: string): Promise<WaveEntity> {
    const { startAt } = validateWaveInput(input, true);
    return withTransaction(this.dataSource, async ({ sql, manager: m }) => {
      const wave = await m.save(
        m.create(WaveEntity, {
          name: input.name.trim(),
          description: input.description ?? null,
          selector: input.selector,
          protocols: [...input.protocols].sort(),
          startLocal: input.startLocal ?? null,
          timeZone: input.timeZone ?? null,
          startAt,
          ratePerSecond: input.ratePerSecond,
          rollbackRatePerSecond: input.rollbackRatePerSecond ?? input.ratePerSecond,
          batchSize: input.batchSize ?? WAVE_DEFAULTS.batchSize,
          concurrency: input.concurrency ?? WAVE_DEFAULTS.concurrency,
          steps: input.steps ?? [],
          gates: (input.gates ?? []) as unknown as Record<string, unknown>[],
          createdBy: actor,
        }),
      );
      await audit(sql, { actor, action: 'wave.created', waveId: wave.id, after: input });
      return wave;
    });
  }

  /** Changes rate, batch size, concurrency, gates (also while running: pumps read them before every batch). */
  async update(id: string, input: UpdateWaveInput, actor: string): Promise<void> {
    const { startAt } = validateWaveInput(input, false);
    await this.locked(id, async (sql, wave, after) => {
      if (wave.state === 'rolled_back')
        throw new IllegalTransitionError(wave.state, 'update', [], 'a rolled back wave cannot change');
      if ((input.steps || input.startLocal) && !['draft', 'scheduled'].includes(wave.state)) {
        throw new IllegalTransitionError(
          wave.state,
          'update',
          [],
          'steps and start time can change only before the wave starts',
        );
      }
      const set: string[] = [];
      const p = new SqlParams();
      const put = (column: string, value: unknown) => set.push(`${column} = ${p.add(value)}`);
      if (input.name !== undefined) put('name', input.name.trim());
      if (input.description !== undefined) put('description', input.description);
      if (input.ratePerSecond !== undefined) put('rate_per_second', input.ratePerSecond);
      if (input.rollbackRatePerSecond !== undefined) put('rollback_rate_per_second', input.rollbackRatePerSecond);
      if (input.batchSize !== undefined) put('batch_size', input.batchSize);
      if (input.concurrency !== undefined) put('concurrency', input.concurrency);
      if (input.gates !== undefined) put('gates', JSON.stringify(input.gates));
      if (input.steps !== undefined) put('steps', JSON.stringify(input.steps));
      if (input.startLocal !== undefined) {
        put('start_local', input.startLocal);
        put('time_zone', input.timeZone);
        put('start_at', startAt);
      }
      if (!set.length) return;
      await sql(
        `UPDATE waves SET ${set.join(', ')}, version = version + 1, updated_at = now() WHERE id = ${p.add(id)}`,
        p.values,
      );
      await audit(sql, { actor, action: 'wave.updated', waveId: id, detail: input });
      if (wave.state === 'scheduled' && startAt)
        after.push(() => nudge(() => this.producer.addStart(id, wave.version + 1, startAt)));
      const state = wave.state;
      if (input.concurrency && input.concurrency > wave.concurrency && isDispatchState(state)) {
        after.push(() => nudge(() => this.addPumps(id, dispatchedKind(state), wave.generation, input.concurrency!)));
      }
    });
  }

  async schedule(id: string, actor: string): Promise<CommandResult> {
    return this.command(id, 'schedule', { actor: 'ops' }, actor, async (_sql, wave, after) => {
      if (!wave.start_at) {
        throw new IllegalTransitionError(
          wave.state,
          'schedule',
          ['start'],
          'the wave has no start time (startLocal and timeZone)',
        );
      }
      const startAt = wave.start_at;
      after.push(() => nudge(() => this.producer.addStart(id, wave.version + 1, startAt)));
    });
  }

  async unschedule(id: string, actor: string): Promise<CommandResult> {
    return this.command(id, 'unschedule', { actor: 'ops' }, actor);
  }

  async start(id: string, actor: string): Promise<CommandResult> {
    return this.command(id, 'start', { actor: 'ops' }, actor);
  }

  /** The scheduled start: exactly once whoever calls it (delayed job, reconciler, several workers). */
  async fireSchedule(id: string): Promise<CommandResult | null> {
    try {
      return await this.command(id, 'fire_schedule', { actor: 'system' }, 'scheduler', async (sql, wave) => {
        if (!wave.start_at || wave.start_at.getTime() > Date.now()) {
          throw new IllegalTransitionError(wave.state, 'fire_schedule', [], 'not due yet');
        }
        const latenessMs = Math.max(0, Date.now() - wave.start_at.getTime());
        await sql(`UPDATE waves SET schedule_fired_at = now(), schedule_lateness_ms = $2 WHERE id = $1`, [
          id,
          latenessMs,
        ]);
        await audit(sql, {
          actor: 'scheduler',
          action: 'wave.schedule_fired',
          waveId: id,
          detail: { dueAt: wave.start_at, latenessMs },
        });
      });
    } catch (err) {
      if (err instanceof IllegalTransitionError) return null;
      throw err;
    }
  }

  async pause(id: string, actor: string): Promise<CommandResult> {
    return this.command(id, 'pause', { actor: 'ops' }, actor);
  }

  async resume(id: string, actor: string): Promise<CommandResult> {
    return this.command(id, 'resume', { actor: 'ops' }, actor);
  }

  async cancel(id: string, actor: string): Promise<CommandResult> {
    return this.command(id, 'cancel', { actor: 'ops' }, actor);
  }

  async rollback(id: string, actor: string): Promise<CommandResult> {
    return this.command(id, 'rollback', { actor: 'ops' }, actor);
  }

  /** Gates and the engine: pause (gate, inconclusive, mailstore unreachable) or halt with the values seen. */
  async systemPause(id: string, reason: PauseReason, detail: Record<string, unknown>): Promise<CommandResult | null> {
    return this.quietly(() =>
      this.command(id, 'gate_pause', { actor: 'system', reason }, 'engine', async (sql) => {
        await sql(`UPDATE waves SET status_detail = $2 WHERE id = $1`, [id, JSON.stringify(detail)]);
      }),
    );
  }

  async halt(
    id: string,
    reason: PauseReason,
    detail: Record<string, unknown>,
    thenRollback: boolean,
  ): Promise<CommandResult | null> {
    const halted = await this.quietly(() =>
      this.command(id, 'halt', { actor: 'system', reason }, 'engine', async (sql) => {
        await sql(`UPDATE waves SET status_detail = $2 WHERE id = $1`, [id, JSON.stringify(detail)]);
      }),
    );
    if (thenRollback) return this.quietly(() => this.command(id, 'rollback', { actor: 'system' }, 'engine'));
    return halted;
  }

  /** The ramp: every member up to the step's limit is done; bake before the next step. */
  async stepPause(id: string, step: number, bakeSeconds: number): Promise<CommandResult | null> {
    return this.quietly(() =>
      this.command(id, 'step_pause', { actor: 'system' }, 'ramp', async (sql, _wave, after) => {
        const [row] = await sql<{ bake_until: Date }>(
          `UPDATE waves SET bake_until = now() + ($2 || ' seconds')::interval WHERE id = $1 RETURNING bake_until`,
          [id, String(bakeSeconds)],
        );
        after.push(() => nudge(() => this.producer.addBakeEnd(id, step, row.bake_until)));
      }),
    );
  }

  /** A bake ended: move to the next step and go on, unless ops paused it meanwhile. */
  async endBake(id: string, step: number): Promise<CommandResult | null> {
    return this.quietly(() =>
      this.command(id, 'resume', { actor: 'system', currentReason: 'ramp_bake' }, 'ramp', async (_sql, wave) => {
        if (wave.current_step !== step || wave.status_reason !== 'ramp_bake') {
          throw new IllegalTransitionError(wave.state, 'resume', [], 'the bake already ended');
        }
      }),
    );
  }

  async complete(id: string): Promise<CommandResult | null> {
    return this.quietly(() => this.command(id, 'complete', { actor: 'system' }, 'engine'));
  }

  async completeRollback(id: string): Promise<CommandResult | null> {
    return this.quietly(() => this.command(id, 'rollback_complete', { actor: 'system' }, 'engine'));
  }

  /** A refused system transition means somebody else already moved the wave: not an error for the caller. */
  private async quietly(fn: () => Promise<CommandResult>): Promise<CommandResult | null> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof IllegalTransitionError) return null;
      throw err;
    }
  }

  /**
   * Runs a lifecycle command: lock, read, check the transition (domain state machine), write the new state and
   * its effects, audit, commit, then queue side effects.
   */
  private async command(
    id: string,
    command: WaveCommand,
    context: TransitionContext,
    actor: string,
    extra?: (sql: Sql, wave: WaveRow, after: AfterCommit) => Promise<void>,
  ): Promise<CommandResult> {
    return this.locked(id, async (sql, wave, after) => {
      const t = transition(wave.state, command, {
        ...context,
        currentReason: (wave.status_reason as PauseReason | null) ?? null,
      });
      if (!t.ok) throw new IllegalTransitionError(wave.state, command, t.allowed, t.detail);
      const to = t.noop ? wave.state : t.to;
      if (!(to === wave.state && isDispatchState(to))) {
        // Halt means halt: unless the wave goes on sending as it was, calls permitted before this commit start
        // within their send window or never, and the command answers once that window has passed (at most
        // EngineSettings.sendWindowMs), never waiting on a worker. A repeated pause too: its answer promises the
        // same as the pause it repeats, which may still be waiting.
        after.push(() => this.fence.waitForSendPermits(sqlOfDataSource(this.dataSource), { waveId: id }));
      }
      if (t.noop) return { id, from: wave.state, state: wave.state, noop: true };
      if (extra) await extra(sql, wave, after);
      // Into a state in which pumps send calls: a new generation of pumps.
      const dispatchTo = isDispatchState(t.to) ? t.to : null;
      const generation = dispatchTo ? wave.generation + 1 : wave.generation;
      let stepUpdate = '';
      if (t.effects.includes('freeze_membership')) {
        await freezeMembership(sql, wave);
      } else if (command === 'resume' && wave.status_reason === 'ramp_bake') {
        stepUpdate = ', current_step = current_step + 1';
        await advanceStep(sql, wave);
      }
      let cancelled: number | undefined;
      if (t.effects.includes('cancel_pending') || (t.to === 'rolling_back' && wave.member_count !== null)) {
        cancelled = await cancelPending(sql, id);
      }
      if (t.effects.includes('begin_rollback')) await countRollback(sql, id);
      await sql(
        `UPDATE waves SET state = $2, status_reason = $3, generation = $4, version = version + 1, updated_at = now(),
                status_detail = CASE WHEN $3::text IS NULL THEN NULL ELSE status_detail END,
                bake_until = CASE WHEN $2 = 'paused' AND $3 = 'ramp_bake' THEN bake_until ELSE NULL END,
                started_at = CASE WHEN $2 = 'running' THEN COALESCE(started_at, now()) ELSE started_at END,
                completed_at = CASE WHEN $2 IN ('completed', 'cancelled') THEN now() ELSE completed_at END,
                rollback_started_at = CASE WHEN $2 = 'rolling_back' THEN COALESCE(rollback_started_at, now()) ELSE rollback_started_at END,
                rollback_completed_at = CASE WHEN $2 = 'rolled_back' THEN now() ELSE rollback_completed_at END
                ${stepUpdate}
          WHERE id = $1`,
        [id, t.to, t.pauseReason, generation],
      );
      await audit(sql, {
        actor,
        action: `wave.${command}`,
        waveId: id,
        before: { state: wave.state, reason: wave.status_reason },
        after: { state: t.to, reason: t.pauseReason },
        ...(cancelled !== undefined ? { detail: { membersCancelled: cancelled } } : {}),
      });
      if (t.effects.includes('freeze_membership')) {
        // A bulk write just changed the member states: without fresh statistics the planner expects a few
        // pending rows and sorts all of them on every claim (bench:rollback: 7.2 s instead of 0.12 s per claim).
        // A rollback writes no member any more: its claims walk a partial index already in seq order. Only the owner
        // may ANALYZE: the service's role calls the owner's one-statement function (migration 1764387000000).
        after.push(async () => {
          await this.dataSource.query('SELECT analyze_wave_members()');
        });
      }
      if (dispatchTo) {
        const kind = dispatchedKind(dispatchTo);
        after.push(() => nudge(() => this.addPumps(id, kind, generation, wave.concurrency)));
      }
      return { id, from: wave.state, state: t.to, noop: false };
    });
  }

  /**
   * One transaction holding the wave's row lock, then (committed, the connection given back) the queue side effects
   * and waits it asked for: no PostgreSQL connection is held while a nudge waits for Redis or a command for permits.
   */
  private async locked<T>(id: string, fn: (sql: Sql, wave: WaveRow, after: AfterCommit) => Promise<T>): Promise<T> {
    const after: AfterCommit = [];
    const result = await withTransaction(this.dataSource, async ({ sql }) => {
      // The wave row's lock orders commands among themselves and with send permits (FOR SHARE SKIP LOCKED: a permit
      // never makes a command wait longer than its one statement, and fails rather than wait for a command).
      // NO KEY UPDATE, not UPDATE: pumps insert batch and counter rows that reference the wave (FOR KEY SHARE);
      // a full FOR UPDATE here would deadlock with a claim whose member rows this command then waits for.
      const [wave] = await sql<WaveRow>(
        `SELECT id, state, status_reason, selector, protocols, steps, current_step, member_count, start_at,
                concurrency, generation, version
           FROM waves WHERE id = $1 FOR NO KEY UPDATE`,
        [id],
      );
      if (!wave) throw new NotFoundError('wave', id);
      return fn(sql, wave, after);
    });
    for (const effect of after) await effect();
    return result;
  }

  async addPumps(id: string, kind: 'forward' | 'rollback', generation: number, concurrency: number): Promise<void> {
    for (let slot = 0; slot < concurrency; slot++) await this.producer.addPump({ waveId: id, kind, generation, slot });
  }
}
