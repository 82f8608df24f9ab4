import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import {
  ApprovalSubject,
  BatchKind,
  Clock,
  GateEnvironment,
  nextWindowOpening,
  PauseReason,
  scheduleRefusal,
  systemClock,
  weakensGuards,
  WINDOW_CLOSE_LEAD_MS,
} from '@app/domain';
import { Sql } from '../db/sql';
import { WaveEntity } from '@app/db';
import { QueueProducer } from '@app/queue';
import { ApprovalGate, Requester } from '../approvals/approval-gate';
import { ApprovalRow } from '../approvals/approval.repository';
import { ConflictError, IllegalTransitionError } from '../errors';
import { nudge } from '../queue-nudge';
import { audit } from '../db/audit-log';
import { withTransaction } from '../db/transaction';
import { newWave, planUpdate, scheduleLateness, windowAllowsSending } from './wave-command-plan';
import { approvalRequired, CommandResult, WaveCommandRunner } from './wave-command-runner';
import { WaveApprovals } from './wave-approvals';
import { WaveRepository } from './wave.repository';
import { checkCohortsExist } from './wave-cohorts';
import { validateWaveInput } from './wave-validation';
import { CreateWaveInput, UpdateWaveInput } from './wave.types';

export type { CommandResult } from './wave-command-runner';

/**
 * Every change of a wave's lifecycle, for ops (API), the scheduler, the ramp and the gates. Each command runs in
 * one transaction holding the wave's row lock; a command that stops dispatch then waits for the send permits
 * granted before its commit to pass their deadline, so once a pause returns no new call can start (invariant 3),
 * and it never waits on a worker (a frozen one included). WaveCommandRunner runs them; the decisions are in
 * wave-command-plan.ts.
 * Queue side effects (pumps, delayed jobs) are added after commit, as nudges: when Redis is unreachable the command
 * still answers (the API's producer fails fast) and the worker's reconciler adds them from PostgreSQL.
 */
@Injectable()
export class WaveCommandsService {
  private readonly waves: WaveRepository;
  private readonly runner: WaveCommandRunner;

  constructor(
    private readonly dataSource: DataSource,
    private readonly producer: QueueProducer,
    /** What the gates may use here: a prometheus gate is refused without PROMETHEUS_URL. */
    private readonly gateEnvironment: GateEnvironment = { prometheus: false },
    /** The clock time windows are judged on (the engine's seam: tests pass a shifted one to cross a DST change). */
    readonly clock: Clock = systemClock,
    /** Two-person approval (docs/approvals.md): the gate and the incident the preview's counts are taken at. */
    approvals: { gate: ApprovalGate; incidentAt: Date } | null = null,
  ) {
    this.waves = new WaveRepository(dataSource);
    this.approvals = approvals ? new WaveApprovals(approvals.gate, this.waves, approvals.incidentAt) : null;
    this.runner = new WaveCommandRunner(dataSource, producer, clock, this.approvals);
  }

  private readonly approvals: WaveApprovals | null;

  async create(input: CreateWaveInput, actor: string): Promise<WaveEntity> {
    const { startAt } = validateWaveInput(input, true, this.gateEnvironment);
    return withTransaction(this.dataSource, async ({ sql, manager }) => {
      await checkCohortsExist(sql, input.selector);
      const wave = await this.waves.insert(manager, newWave(input, actor, startAt));
      await audit(sql, { actor, action: 'wave.created', waveId: wave.id, after: input });
      return wave;
    });
  }

  /** Changes rate, batch size, concurrency, gates (also while running: pumps read them before every batch). */
  async update(id: string, input: UpdateWaveInput, actor: string, key?: string): Promise<void> {
    const { startAt } = validateWaveInput(input, false, this.gateEnvironment);
    const request = await this.runner.locked(id, async (sql, wave, after): Promise<ApprovalRow | undefined> => {
      const plan = planUpdate(wave, input, startAt);
      if (!plan.changes) return;
      let approvalId: string | null = null;
      if (this.approvals) {
        // The update as given is what is approved: the same body sent again runs it.
        const args = JSON.parse(JSON.stringify(input)) as Record<string, unknown>;
        const action = {
          command: 'update',
          currentRate: wave.rate_per_second,
          newRate: input.ratePerSecond,
          state: wave.state,
          weakensGuards: weakensGuards(wave, input),
        } as const;
        const gate = await this.approvals.check(sql, wave, action, args, requester(actor, key));
        if (!gate.run) return gate.request;
        approvalId = gate.approvalId;
      }
      await this.waves.update(sql, id, plan.changes);
      // An approved change of a scheduled wave: its start now fires on the plan this approval saw.
      if (this.approvals && approvalId && wave.state === 'scheduled') {
        await this.approvals.bindSchedule(sql, id, approvalId);
      }
      await audit(sql, {
        actor,
        action: 'wave.updated',
        waveId: id,
        detail: approvalId ? { ...input, approvalId } : input,
      });
      // Every open request of this wave was bound to the plan before this change.
      if (this.approvals) await this.approvals.planChanged(sql, id, actor, approvalId);
      const { restartAt, morePumps } = plan;
      if (plan.windowsChanged) after.push(() => this.runner.armWindow({ ...wave, windows: input.windows ?? null }));
      if (restartAt) after.push(() => nudge(() => this.producer.addStart(id, wave.version + 1, restartAt)));
      if (morePumps) {
        after.push(() => nudge(() => this.addPumps(id, morePumps.kind, wave.generation, morePumps.concurrency)));
      }
    });
    if (request) throw approvalRequired(request);
  }

  /** `key`: the caller's key id (the two-person rule compares it); without one, the actor stands for the key. */
  async schedule(id: string, actor: string, key?: string): Promise<CommandResult> {
    const by = requester(actor, key);
    return this.runner.run(
      id,
      'schedule',
      { actor: 'ops' },
      actor,
      async (_sql, wave, after) => {
        if (!wave.start_at) {
          throw new IllegalTransitionError(
            wave.state,
            'schedule',
            ['start'],
            'the wave has no start time (startLocal and timeZone)',
          );
        }
        const startAt = wave.start_at;
        // Not a start long past (a plan file kept from another day): it would start at once, unplanned.
        const late = wave.state === 'draft' ? scheduleRefusal(startAt, this.clock()) : null;
        if (late)
          throw new ConflictError('start_passed', `the wave cannot be scheduled: ${late}`, { field: 'startLocal' });
        after.push(() => nudge(() => this.producer.addStart(id, wave.version + 1, startAt)));
      },
      by,
    );
  }

  async unschedule(id: string, actor: string, key?: string): Promise<CommandResult> {
    return this.runner.run(id, 'unschedule', { actor: 'ops' }, actor, undefined, requester(actor, key));
  }

  async start(id: string, actor: string, key?: string): Promise<CommandResult> {
    return this.runner.run(id, 'start', { actor: 'ops' }, actor, undefined, requester(actor, key));
  }

  /** The scheduled start: exactly once whoever calls it (delayed job, reconciler, several workers). */
  async fireSchedule(id: string): Promise<CommandResult | null> {
    return this.quietly(() =>
      this.runner.run(id, 'fire_schedule', { actor: 'system' }, 'scheduler', async (sql, wave) => {
        const latenessMs = scheduleLateness(wave, new Date());
        await this.waves.recordScheduleFired(sql, id, latenessMs);
        await audit(sql, {
          actor: 'scheduler',
          action: 'wave.schedule_fired',
          waveId: id,
          detail: { dueAt: wave.start_at, latenessMs },
        });
      }),
    );
  }

  async pause(id: string, actor: string, key?: string): Promise<CommandResult> {
    return this.runner.run(id, 'pause', { actor: 'ops' }, actor, undefined, requester(actor, key));
  }

  async resume(id: string, actor: string, key?: string): Promise<CommandResult> {
    return this.runner.run(id, 'resume', { actor: 'ops' }, actor, undefined, requester(actor, key));
  }

  async cancel(id: string, actor: string, key?: string): Promise<CommandResult> {
    return this.runner.run(id, 'cancel', { actor: 'ops' }, actor, undefined, requester(actor, key));
  }

  async rollback(id: string, actor: string, key?: string): Promise<CommandResult> {
    return this.runner.run(id, 'rollback', { actor: 'ops' }, actor, undefined, requester(actor, key));
  }

  /** Gates and the engine: pause (gate, inconclusive, mailstore unreachable) or halt with the values seen. */
  async systemPause(id: string, reason: PauseReason, detail: Record<string, unknown>): Promise<CommandResult | null> {
    return this.quietly(() =>
      this.runner.run(id, 'gate_pause', { actor: 'system', reason }, 'engine', async (sql) => {
        await this.waves.setStatusDetail(sql, id, detail);
        return detail;
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
      this.runner.run(id, 'halt', { actor: 'system', reason }, 'engine', async (sql) => {
        await this.waves.setStatusDetail(sql, id, detail);
        return detail;
      }),
    );
    if (thenRollback) return this.quietly(() => this.runner.run(id, 'rollback', { actor: 'system' }, 'engine'));
    return halted;
  }

  /** The ramp: every member up to the step's limit is done; bake before the next step. */
  async stepPause(id: string, step: number, bakeSeconds: number): Promise<CommandResult | null> {
    return this.quietly(() =>
      this.runner.run(id, 'step_pause', { actor: 'system' }, 'ramp', async (sql, _wave, after) => {
        const bakeUntil = await this.waves.startBake(sql, id, bakeSeconds);
        after.push(() => nudge(() => this.producer.addBakeEnd(id, step, bakeUntil)));
        return { step, bakeUntil: bakeUntil.toISOString() };
      }),
    );
  }

  /** A bake ended: move to the next step and go on, unless ops paused it meanwhile. */
  async endBake(id: string, step: number): Promise<CommandResult | null> {
    return this.quietly(() =>
      this.runner.run(id, 'resume', { actor: 'system', currentReason: 'ramp_bake' }, 'ramp', async (_sql, wave) => {
        if (wave.current_step !== step || wave.status_reason !== 'ramp_bake') {
          throw new IllegalTransitionError(wave.state, 'resume', [], 'the bake already ended');
        }
      }),
    );
  }

  /**
   * The wave's time window closed (or closes within WINDOW_CLOSE_LEAD_MS): a running wave pauses as `outside_window`,
   * and its opening is armed. Refused (null) when the window is open, or the wave is not running (an ops pause, a gate's,
   * a bake stay theirs). Like any pause it answers once calls already permitted have started or never will.
   */
  async closeWindow(id: string): Promise<CommandResult | null> {
    const now = this.clock();
    return this.quietly(() =>
      this.runner.run(id, 'window_closed', { actor: 'system' }, 'windows', async (sql, wave, after) => {
        if (windowAllowsSending(wave.windows, now)) {
          throw new IllegalTransitionError(wave.state, 'window_closed', [], 'the window is open');
        }
        const opensAt = wave.windows
          ? nextWindowOpening(wave.windows, new Date(now.getTime() + WINDOW_CLOSE_LEAD_MS))
          : null;
        const detail = {
          closedAt: now.toISOString(),
          opensAt: opensAt?.toISOString() ?? null,
          timeZone: wave.windows?.timeZone,
        };
        await this.waves.setStatusDetail(sql, id, detail);
        if (opensAt) after.push(() => nudge(() => this.producer.addWindowEdge(id, opensAt, now)));
        return detail;
      }),
    );
  }

  /** The window of a wave paused as `outside_window` opened: it runs again. Null when still closed, or paused otherwise. */
  async openWindow(id: string): Promise<CommandResult | null> {
    const now = this.clock();
    return this.quietly(() =>
      this.runner.run(id, 'window_opened', { actor: 'system' }, 'windows', async (_sql, wave) => {
        if (!windowAllowsSending(wave.windows, now)) {
          throw new IllegalTransitionError(wave.state, 'window_opened', [], 'the window is still closed');
        }
        return { openedAt: now.toISOString() };
      }),
    );
  }

  /**
   * A window edge job: closes a running wave or opens one waiting for its window, whichever applies now, exactly once
   * whoever calls (each under the wave's lock, on its state); otherwise arms the next edge again (a job that fired
   * early, windows changed since it was armed).
   */
  async windowEdge(id: string): Promise<'closed' | 'opened' | 'skipped'> {
    const closed = await this.closeWindow(id);
    if (closed && !closed.noop) return 'closed';
    if (await this.openWindow(id)) return 'opened';
    const wave = await this.waves.findById(id);
    if (wave) {
      await this.runner.armWindow({ id, state: wave.state, status_reason: wave.statusReason, windows: wave.windows });
    }
    return 'skipped';
  }

  async complete(id: string): Promise<CommandResult | null> {
    return this.quietly(() => this.runner.run(id, 'complete', { actor: 'system' }, 'engine'));
  }

  async completeRollback(id: string): Promise<CommandResult | null> {
    return this.quietly(() =>
      this.runner.run(id, 'rollback_complete', { actor: 'system' }, 'engine', (sql) =>
        this.waves.rollbackOutcomes(sql, id),
      ),
    );
  }

  /** What an approval request is bound to, read again now (ApprovalService's show and approve). */
  async approvalSubject(sql: Sql, row: ApprovalRow): Promise<ApprovalSubject> {
    if (!this.approvals || !row.wave_id) throw new Error(`approval ${row.id} is not bound to a wave`);
    return this.approvals.subject(sql, row.wave_id, row.command, row.args);
  }

  /** Queues a wave's pumps, one per concurrency slot (the engine's reconciler and drain call it too). */
  async addPumps(id: string, kind: BatchKind, generation: number, concurrency: number): Promise<void> {
    await this.runner.addPumps(id, kind, generation, concurrency);
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
}

function requester(actor: string, key: string | undefined): Requester {
  return { actor, key: key ?? actor };
}
