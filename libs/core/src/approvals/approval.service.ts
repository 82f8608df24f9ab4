import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import {
  APPROVAL_STATES,
  ApprovalState,
  ApprovalSubject,
  approvalHash,
  canApprove,
  canReject,
  diffJson,
  FieldChange,
  FieldErrors,
} from '@app/domain';
import { ConflictError, DomainError, NotFoundError, ValidationError } from '../errors';
import { audit } from '../db/audit-log';
import { Sql, sqlOfDataSource } from '../db/sql';
import { withTransaction } from '../db/transaction';
import { ApprovalGate, approvalAuditTarget, approvalDetail, recordOf } from './approval-gate';
import { ApprovalRepository, ApprovalRow } from './approval.repository';

/** What an approval is bound to now (the wave's plan and preview counts read again), from its row. */
export type SubjectOf = (sql: Sql, row: ApprovalRow) => Promise<ApprovalSubject>;

/** The ops key deciding: its audit actor, its identity (key id) and its role. */
export interface Approver {
  actor: string;
  key: string;
  role: string;
}

export interface ApprovalView {
  id: string;
  waveId: string | null;
  command: string;
  rule: string;
  /** The command's own input (an update's body). */
  args: Record<string, unknown>;
  state: ApprovalState;
  hash: string;
  /** The wave's plan in canonical form (stored columns) and the preview's counts, as the requester saw them. */
  plan: Record<string, unknown> | null;
  counts: Record<string, unknown> | null;
  requestedBy: string;
  requestedAt: Date;
  expiresAt: Date;
  decidedBy: string | null;
  decidedAt: Date | null;
  note: string | null;
  endedReason: string | null;
  executedAt: Date | null;
  /**
   * What changed since the last approval given on the same wave, field by field (`plan.rate_per_second`,
   * `counts.eligible`); null when the wave had none.
   */
  sinceLastApproval: { approvalId: string; approvedAt: Date; changes: FieldChange[] } | null;
}

/** An open request with what it is bound to read again now. */
export interface ApprovalDetailView extends ApprovalView {
  /** For an open request: whether the wave's plan and counts still hash the same, and what moved if not. */
  current: { hash: string; matches: boolean; changes: FieldChange[] } | null;
}

export const APPROVAL_PAGE = { default: 50, max: 200 } as const;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Approval requests as ops see and decide them (docs/approvals.md): list, show, approve (a second ops key, the plan
 * and counts unchanged since the request), reject. The commands make the requests (ApprovalGate).
 */
@Injectable()
export class ApprovalService {
  private readonly approvals = new ApprovalRepository();

  constructor(
    private readonly dataSource: DataSource,
    private readonly gate: ApprovalGate,
    private readonly subjectOf: SubjectOf,
  ) {}

  async list(query: { state?: string; waveId?: string; limit?: number }): Promise<ApprovalView[]> {
    const f = new FieldErrors();
    if (query.state !== undefined) f.oneOf('state', query.state, APPROVAL_STATES);
    if (query.waveId !== undefined && !UUID.test(query.waveId)) f.add('waveId', 'must be a UUID');
    const limit = query.limit ?? APPROVAL_PAGE.default;
    f.integerIn('limit', limit, 1, APPROVAL_PAGE.max);
    if (f.errors.length) throw new ValidationError(f.errors);
    const sql = sqlOfDataSource(this.dataSource);
    await this.approvals.expireDue(sql);
    const rows = await this.approvals.list(
      sql,
      { state: (query.state as ApprovalState | undefined) ?? 'pending', waveId: query.waveId },
      limit,
    );
    return Promise.all(rows.map((r) => this.view(sql, r)));
  }

  async show(id: string): Promise<ApprovalDetailView> {
    const sql = sqlOfDataSource(this.dataSource);
    await this.approvals.expireDue(sql);
    const row = UUID.test(id) ? await this.approvals.findById(sql, id) : undefined;
    if (!row) throw new NotFoundError('approval', id);
    let current: ApprovalDetailView['current'] = null;
    if (row.state === 'pending' || row.state === 'approved') {
      const now = await this.subjectOf(sql, row);
      const hash = approvalHash(now);
      current = { hash, matches: hash === row.hash, changes: changesOf(row, now) };
    }
    return { ...(await this.view(sql, row)), current };
  }

  /**
   * A second ops key approves: refused to the requester (403 `self_approval`), once expired, decided or ended (409),
   * and when the plan or the preview's counts moved since the request (409 `approval_invalidated`, the request ended
   * with what moved; the command makes a new one when sent again).
   */
  async approve(id: string, approver: Approver, note: string | null): Promise<ApprovalView> {
    // Committed on its own: the refusal below rolls the decision's transaction back, not the expiry.
    await this.approvals.expireDue(sqlOfDataSource(this.dataSource));
    const outcome = await withTransaction(this.dataSource, async ({ sql }) => {
      const row = await this.lockDecidable(sql, id);
      const now = await this.subjectOf(sql, row);
      const refusal = canApprove(
        recordOf(row),
        { identity: approver.key, role: approver.role, actor: approver.actor },
        approvalHash(now),
        new Date(),
      );
      switch (refusal) {
        case null:
          break;
        case 'plan_changed':
          await this.gate.invalidate(sql, row, now, approver.actor);
          return { invalidated: changesOf(row, now) };
        case 'self_approval':
          throw new DomainError(
            'self_approval',
            'the key that requested this approval, or another key of its name, cannot give it',
            'forbidden',
            {
              approvalId: id,
            },
          );
        case 'wrong_role':
          throw new DomainError('forbidden', 'only an ops key approves', 'forbidden', { approvalId: id });
        case 'expired':
        case 'not_pending':
        case 'not_approved':
          throw notOpen(row);
      }
      const approved = await this.approvals.approve(sql, id, approver, note, this.gate.settings.ttlSeconds);
      await audit(sql, {
        actor: approver.actor,
        action: 'approval.given',
        ...approvalAuditTarget(approved),
        detail: approvalDetail(approved, { approvedBy: approver.actor, note }),
      });
      return { approved };
    });
    if ('invalidated' in outcome) {
      throw new ConflictError(
        'approval_invalidated',
        'the plan or the preview changed since this approval was requested: send the command again for a new request',
        { approvalId: id, changes: outcome.invalidated },
      );
    }
    return this.view(sqlOfDataSource(this.dataSource), outcome.approved);
  }

  /**
   * Any ops key (the requester too, to withdraw it) rejects an open request, with a reason; a support key withdraws
   * the override requests it made.
   */
  async reject(id: string, by: Approver, reason: string): Promise<ApprovalView> {
    if (typeof reason !== 'string' || !reason.trim() || reason.length > 500) {
      throw new ValidationError([
        { field: 'reason', message: 'reason must be a non-empty string of at most 500 characters' },
      ]);
    }
    await this.approvals.expireDue(sqlOfDataSource(this.dataSource));
    const rejected = await withTransaction(this.dataSource, async ({ sql }) => {
      // Who may decide first (a support key on another's request: 403 whatever its state), then whether it is open.
      await this.lockDecidable(sql, id, ['pending', 'approved'], (open) => {
        if (!canReject(recordOf(open), { identity: by.key, role: by.role })) {
          throw new DomainError('forbidden', 'a support key withdraws only a request it made', 'forbidden', {
            approvalId: id,
          });
        }
      });
      const row = await this.approvals.reject(sql, id, by, reason.trim());
      await audit(sql, {
        actor: by.actor,
        action: 'approval.rejected',
        ...approvalAuditTarget(row),
        reason: row.note,
        detail: approvalDetail(row, { rejectedBy: by.actor, reason: row.note }),
      });
      return row;
    });
    return this.view(sqlOfDataSource(this.dataSource), rejected);
  }

  private async lockDecidable(
    sql: Sql,
    id: string,
    states: ApprovalState[] = ['pending'],
    /** Throws when the caller may not decide this request at all (checked before its state). */
    mayDecide: (row: ApprovalRow) => void = () => undefined,
  ): Promise<ApprovalRow> {
    const row = UUID.test(id) ? await this.approvals.lockById(sql, id) : undefined;
    if (!row) throw new NotFoundError('approval', id);
    mayDecide(row);
    if (!states.includes(row.state)) throw notOpen(row);
    return row;
  }

  private async view(sql: Sql, r: ApprovalRow): Promise<ApprovalView> {
    const last = r.wave_id ? await this.approvals.lastApproved(sql, r.wave_id, r.requested_at) : undefined;
    return {
      id: r.id,
      waveId: r.wave_id,
      command: r.command,
      rule: r.rule,
      args: r.args,
      state: r.state,
      hash: r.hash,
      plan: r.plan,
      counts: r.counts as unknown as Record<string, unknown> | null,
      requestedBy: r.requested_by,
      requestedAt: r.requested_at,
      expiresAt: r.expires_at,
      decidedBy: r.decided_by,
      decidedAt: r.decided_at,
      note: r.note,
      endedReason: r.ended_reason,
      executedAt: r.executed_at,
      sinceLastApproval:
        last && last.decided_at
          ? { approvalId: last.id, approvedAt: last.decided_at, changes: changesOf(last, r) }
          : null,
    };
  }
}

/** What moved between what a request was bound to and `now` (another request, or the wave read again). */
function changesOf(
  before: Pick<ApprovalRow, 'plan' | 'counts'>,
  now: Pick<ApprovalRow, 'plan' | 'counts'> | Pick<ApprovalSubject, 'plan' | 'counts'>,
): FieldChange[] {
  return [
    ...diffJson(before.plan ?? {}, now.plan ?? {}, 'plan'),
    ...diffJson(before.counts ?? {}, now.counts ?? {}, 'counts'),
  ];
}

function notOpen(row: ApprovalRow): ConflictError {
  const code = row.state === 'expired' ? 'approval_expired' : 'approval_not_pending';
  return new ConflictError(code, `approval ${row.id} is ${row.state}`, { approvalId: row.id, state: row.state });
}
