import {
  ApprovalAction,
  ApprovalCommand,
  ApprovalCounts,
  approvalRuleFor,
  ApprovalSubject,
  canonicalPlan,
  effectivePolicy,
  FieldChange,
  ScheduleApproval,
  scheduleFireRefusal,
  SKIP_REASONS,
} from '@app/domain';
import { ApprovalGate, GateOutcome, Requester } from '../approvals/approval-gate';
import { NotFoundError } from '../errors';
import { Sql } from '../db/sql';
import { WaveRepository, WaveRow } from './wave.repository';

/**
 * What binds a wave's approvals (docs/approvals.md): its plan as stored and the preview's counts, and the check each
 * command that the policy puts behind a second key makes in its transaction.
 */
export class WaveApprovals {
  constructor(
    private readonly gate: ApprovalGate,
    private readonly waves: WaveRepository,
    private readonly incidentAt: Date,
  ) {}

  /**
   * The subject of an approval for `command` on the wave now: its canonical plan and the preview's counts (before
   * the start: eligible and held back by reason over the selector, as GET /preview counts them; once the membership is
   * frozen, its size: the pending counts move as the wave runs by design, who is in it does not).
   */
  async subject(sql: Sql, waveId: string, command: ApprovalCommand, args: Record<string, unknown>) {
    const row = await this.waves.storedRow(sql, waveId);
    if (!row) throw new NotFoundError('wave', waveId);
    const memberCount = row.member_count as number | null;
    let counts: ApprovalCounts;
    if (memberCount === null) {
      const { byOutcome, eligibleDigest } = await this.waves.eligibilityWithDigest(
        {
          id: waveId,
          memberCount: null,
          selector: row.selector as never,
          protocols: row.protocols as never,
        },
        this.incidentAt,
        sql,
      );
      counts = {
        scope: 'selector',
        eligible: byOutcome.get('eligible') ?? 0,
        eligibleDigest,
        heldBack: Object.fromEntries(SKIP_REASONS.map((r) => [r, byOutcome.get(r) ?? 0])),
      };
    } else {
      counts = { scope: 'members', eligible: memberCount, heldBack: {} };
    }
    return { waveId, command, args, plan: canonicalPlan(row), counts } satisfies ApprovalSubject;
  }

  /**
   * A command on the wave, locked: runs at once when the policy does not ask for a second key; otherwise runs only on
   * an approval bound to the same subject (consumed here), else returns the request it waits for.
   */
  async check(
    sql: Sql,
    wave: WaveRow,
    action: ApprovalAction,
    args: Record<string, unknown>,
    requester: Requester,
  ): Promise<GateOutcome> {
    const rule = approvalRuleFor(effectivePolicy(this.gate.settings.deployment, wave.approval_policy), action);
    if (!rule) return { run: true, approvalId: null };
    return this.gate.check(sql, await this.subject(sql, wave.id, action.command, args), rule, requester);
  }

  /**
   * Records what the wave's schedule was approved on (`approvalId`: the approval the schedule, or an approved change of
   * the scheduled wave, consumed; null: it ran on one key, nothing to hold the fire to).
   */
  async bindSchedule(sql: Sql, waveId: string, approvalId: string | null): Promise<void> {
    if (!approvalId) return this.waves.setScheduleApproval(sql, waveId, null);
    const { plan, counts } = await this.subject(sql, waveId, 'schedule', {});
    await this.waves.setScheduleApproval(sql, waveId, { approvalId, plan, counts });
  }

  /**
   * The scheduler's check before a scheduled wave starts, in the fire's transaction: when the policy asks a second key
   * for its start, the plan and counts now must be those its schedule was approved on (scheduleFireRefusal); returns
   * what moved, or null when it may fire.
   */
  async fireRefusal(sql: Sql, wave: WaveRow): Promise<{ approvalId: string | null; changes: FieldChange[] } | null> {
    const action = { command: 'schedule', ratePerSecond: wave.rate_per_second } as const;
    if (!approvalRuleFor(effectivePolicy(this.gate.settings.deployment, wave.approval_policy), action)) return null;
    const { plan, counts } = await this.subject(sql, wave.id, 'schedule', {});
    const row = await this.waves.storedRow(sql, wave.id);
    const approved = (row?.schedule_approval ?? null) as ScheduleApproval | null;
    const keyRevoked = approved ? await this.gate.keyRevoked(sql, approved.approvalId) : false;
    const changes = scheduleFireRefusal(approved, { plan, counts }, keyRevoked);
    return changes.length ? { approvalId: approved?.approvalId ?? null, changes } : null;
  }

  /** The wave's plan changed (an update): its other open requests end. */
  async planChanged(sql: Sql, waveId: string, actor: string, except: string | null): Promise<void> {
    const planNow = async () => {
      const row = await this.waves.storedRow(sql, waveId);
      return row ? canonicalPlan(row) : null;
    };
    await this.gate.planChanged(sql, waveId, planNow, actor, except);
  }
}
