import { DataSource } from 'typeorm';
import {
  ApprovalAction,
  BatchKind,
  cancelPendingDelta,
  FieldChange,
  Clock,
  membershipDelta,
  normalizeSteps,
  rollbackQueueDelta,
  stepLimits,
  TransitionContext,
  WaveCommand,
  WaveState,
} from '@app/domain';
import { QueueProducer } from '@app/queue';
import type { Requester } from '../approvals/approval-gate';
import { ApprovalRow } from '../approvals/approval.repository';
import { ApprovalRequiredError, NotFoundError } from '../errors';
import { nudge } from '../queue-nudge';
import { audit } from '../db/audit-log';
import { Sql, sqlOfDataSource } from '../db/sql';
import { applyCounters } from '../db/wave-counters';
import { withTransaction } from '../db/transaction';
import { SendPermitFence } from '../permits';
import { CommandPlan, planCommand, windowEdgeAt } from './wave-command-plan';
import { WaveApprovals } from './wave-approvals';
import { WaveMembershipRepository } from './wave-membership.repository';
import { WaveRepository, WaveRow } from './wave.repository';

export interface CommandResult {
  id: string;
  from: WaveState;
  state: WaveState;
  noop: boolean;
}

/** Work to do once the command's transaction has committed and its connection is given back. */
export type AfterCommit = (() => Promise<void>)[];

/**
 * A command's own writes besides the transition (a schedule's lateness, a halt's detail), in its transaction; what it
 * returns goes into the command's audit row as detail.
 */
export type CommandWrites = (sql: Sql, wave: WaveRow, after: AfterCommit) => Promise<void | Record<string, unknown>>;

/**
 * Runs one lifecycle command: lock and read the wave, decide (planCommand: the domain's state machine and what it
 * implies), write the new state, the membership changes and the audit row, commit, then queue side effects.
 */
export class WaveCommandRunner {
  private readonly waves: WaveRepository;
  private readonly members = new WaveMembershipRepository();
  private readonly fence = new SendPermitFence();

  constructor(
    private readonly dataSource: DataSource,
    private readonly producer: QueueProducer,
    /** The time windows' clock (the engine's seam). */
    private readonly clock: Clock,
    /** Two-person approval (docs/approvals.md); null: every command runs on one key. */
    readonly approvals: WaveApprovals | null = null,
  ) {
    this.waves = new WaveRepository(dataSource);
  }

  /**
   * `requester`: the ops key behind a command from the API, whose commands the approval policy may put behind a
   * second key (ApprovalRequiredError, the request committed); system commands have none.
   */
  async run(
    id: string,
    command: WaveCommand,
    context: TransitionContext,
    actor: string,
    writes?: CommandWrites,
    requester?: Requester,
  ): Promise<CommandResult> {
    const outcome = await this.locked(id, async (sql, wave, after): Promise<CommandResult | ApprovalRow> => {
      const plan = planCommand(wave, command, context);
      const waitForPermits = () => {
        if (plan.waitForPermits) {
          after.push(() => this.fence.waitForSendPermits(sqlOfDataSource(this.dataSource), { waveId: id }));
        }
      };
      if (plan.noop) {
        waitForPermits();
        return { id, from: wave.state, state: wave.state, noop: true };
      }
      let approvalId: string | null = null;
      const action = approvalAction(command, wave);
      if (requester && action && this.approvals) {
        const gate = await this.approvals.check(sql, wave, action, {}, requester);
        if (!gate.run) return gate.request;
        approvalId = gate.approvalId;
      }
      // A scheduled start under a second key's approval fires only on what that key saw (docs/approvals.md).
      if (command === 'fire_schedule' && this.approvals) {
        const refused = await this.approvals.fireRefusal(sql, wave);
        if (refused) return this.refuseFire(sql, wave, refused);
      }
      waitForPermits();
      const written = writes ? await writes(sql, wave, after) : undefined;
      const cancelled = await this.writeMembers(sql, wave, plan);
      const detail = {
        ...(cancelled !== undefined ? { membersCancelled: cancelled } : {}),
        ...(written ?? {}),
        ...(approvalId ? { approvalId } : {}),
      };
      await this.waves.writeTransition(sql, id, { ...plan, nextStep: plan.membership === 'next_step' });
      if (command === 'schedule' && this.approvals) await this.approvals.bindSchedule(sql, id, approvalId);
      await audit(sql, {
        actor,
        action: `wave.${command}`,
        waveId: id,
        before: { state: wave.state, reason: wave.status_reason },
        after: { state: plan.to, reason: plan.pauseReason },
        ...(Object.keys(detail).length ? { detail } : {}),
      });
      // A bulk write just changed the member states: without fresh statistics the planner expects a few pending rows
      // and sorts all of them on every claim (bench:rollback: 7.2 s instead of 0.12 s per claim). A rollback writes no
      // member any more: its claims walk a partial index already in seq order.
      if (plan.membership === 'freeze') after.push(() => this.waves.analyzeMembers());
      const pumps = plan.pumps;
      if (pumps) after.push(() => nudge(() => this.addPumps(id, pumps, plan.generation, wave.concurrency)));
      // Running again (a start, a resume, a window that opened): watch for the window's close.
      if (plan.to === 'running' && wave.windows) {
        after.push(() => this.armWindow({ ...wave, state: plan.to, status_reason: plan.pauseReason }));
      }
      return { id, from: wave.state, state: plan.to, noop: false };
    });
    if ('hash' in outcome) throw approvalRequired(outcome);
    return outcome;
  }

  /**
   * One transaction holding the wave's row lock, then (committed, the connection given back) the queue side effects
   * and waits it asked for: no PostgreSQL connection is held while a nudge waits for Redis or a command for permits.
   */
  async locked<T>(id: string, fn: (sql: Sql, wave: WaveRow, after: AfterCommit) => Promise<T>): Promise<T> {
    const after: AfterCommit = [];
    const result = await withTransaction(this.dataSource, async ({ sql }) => {
      const wave = await this.waves.lockForCommand(sql, id);
      if (!wave) throw new NotFoundError('wave', id);
      return fn(sql, wave, after);
    });
    for (const effect of after) await effect();
    return result;
  }

  /**
   * The scheduled start refused: the plan or the counts moved since its schedule's approval. The wave goes back to
   * draft (nothing frozen, no pump), audited `wave.schedule_refused` with what moved (an event: the channel hears it);
   * ops schedule it again, under a new approval.
   */
  private async refuseFire(
    sql: Sql,
    wave: WaveRow,
    refused: { approvalId: string | null; changes: FieldChange[] },
  ): Promise<CommandResult> {
    const plan = planCommand(wave, 'unschedule', { actor: 'system' });
    await this.waves.writeTransition(sql, wave.id, { ...plan, nextStep: false });
    await this.waves.setScheduleApproval(sql, wave.id, null);
    const detail = { reason: 'approval_stale', approvalId: refused.approvalId, changes: refused.changes };
    await this.waves.setStatusDetail(sql, wave.id, detail);
    await audit(sql, {
      actor: 'scheduler',
      action: 'wave.schedule_refused',
      waveId: wave.id,
      before: { state: wave.state, reason: wave.status_reason },
      after: { state: plan.to, reason: plan.pauseReason },
      detail: { ...detail, dueAt: wave.start_at },
    });
    return { id: wave.id, from: wave.state, state: plan.to, noop: false };
  }

  /** Queues the wave's next window edge (windowEdgeAt), if it has one; a nudge: the reconciler covers a lost one. */
  async armWindow(wave: Parameters<typeof windowEdgeAt>[0] & { id: string }): Promise<void> {
    const now = this.clock();
    const at = windowEdgeAt(wave, now);
    if (at) await nudge(() => this.producer.addWindowEdge(wave.id, at, now));
  }

  async addPumps(id: string, kind: BatchKind, generation: number, concurrency: number): Promise<void> {
    for (let slot = 0; slot < concurrency; slot++) await this.producer.addPump({ waveId: id, kind, generation, slot });
  }

  /** The membership writes the plan asks for, and their counters; returns how many pending members were cancelled. */
  private async writeMembers(sql: Sql, wave: WaveRow, plan: CommandPlan): Promise<number | undefined> {
    if (plan.membership === 'freeze') await this.freezeMembership(sql, wave);
    if (plan.membership === 'next_step') {
      const limits = stepLimits(wave.member_count ?? 0, normalizeSteps(wave.steps));
      await this.members.setStepLimit(sql, wave.id, limits[wave.current_step + 1] ?? wave.member_count ?? 0);
    }
    let cancelled: number | undefined;
    if (plan.cancelPending) {
      cancelled = await this.members.cancelPending(sql, wave.id);
      if (cancelled) await applyCounters(sql, wave.id, cancelPendingDelta(cancelled));
    }
    // Added to rollback:total and rollback:pending under the wave's lock, in the transaction that sets
    // rollback_started_at. Forward batches that settle after it (in flight when the rollback began) count their own
    // enabled members (settleForward).
    if (plan.countRollback) {
      const toRestore = await this.members.uncountedRollback(sql, wave.id);
      if (toRestore > 0) await applyCounters(sql, wave.id, rollbackQueueDelta(toRestore));
    }
    return cancelled;
  }

  /** The selector resolved once, the ramp's limits from its size, the counters and one audit row. */
  private async freezeMembership(sql: Sql, wave: WaveRow): Promise<void> {
    const members = await this.members.insertMembers(sql, wave);
    const limits = stepLimits(members, normalizeSteps(wave.steps));
    await this.members.recordMembership(sql, wave.id, members, limits[0] ?? members);
    await applyCounters(sql, wave.id, membershipDelta(members));
    await audit(sql, {
      actor: 'engine',
      action: 'wave.membership_frozen',
      waveId: wave.id,
      detail: { members, stepLimits: limits },
    });
  }
}

/** A lifecycle command as the approval rules see it; null for those no policy can put behind a second key. */
function approvalAction(command: WaveCommand, wave: WaveRow): ApprovalAction | null {
  switch (command) {
    case 'schedule':
    case 'start':
      return { command, ratePerSecond: wave.rate_per_second };
    case 'resume':
      return { command, state: wave.state };
    case 'rollback':
      return { command };
    default:
      return null;
  }
}

export function approvalRequired(request: ApprovalRow): ApprovalRequiredError {
  return new ApprovalRequiredError({
    approvalId: request.id,
    rule: request.rule,
    command: request.command,
    waveId: request.wave_id,
    expiresAt: request.expires_at,
  });
}
