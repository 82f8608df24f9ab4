import {
  ApprovalPolicy,
  ApprovalRule,
  ApprovalSubject,
  approvalHash,
  canExecute,
  canonicalJson,
  CanonicalPlan,
  diffJson,
} from '@app/domain';
import { audit } from '../db/audit-log';
import { Sql } from '../db/sql';
import { ApprovalRepository, ApprovalRow } from './approval.repository';

/** Who sends a command: the audit actor (`ops:alice`) and the key's identity (its id) the two-person rule compares. */
export interface Requester {
  actor: string;
  key: string;
}

export interface ApprovalSettings {
  /** The deployment's policy (APPROVAL_REQUIRED_FOR, APPROVAL_RATE_BOUND). */
  deployment: ApprovalPolicy;
  /** How long a request waits for its approval, and an approval for its command (APPROVAL_TTL_S). */
  ttlSeconds: number;
}

/** The outcome of a command's check: it may run (no approval needed, or its approval consumed), or it waits. */
export type GateOutcome = { run: true; approvalId: string | null } | { run: false; request: ApprovalRow };

/**
 * Where an approval's audit rows belong: its wave, or for a support override (no wave) the account its request names,
 * so that the account's history (GET /audit?login=, GET /accounts/{login}) shows it.
 */
export function approvalAuditTarget(row: Pick<ApprovalRow, 'wave_id' | 'args'>): {
  waveId: string | null;
  login?: string;
} {
  const login = row.wave_id === null ? row.args.login : undefined;
  return { waveId: row.wave_id, ...(typeof login === 'string' ? { login } : {}) };
}

/** What an approval's audit rows carry: the notifications (issue 20) read them. */
export function approvalDetail(row: ApprovalRow, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    approvalId: row.id,
    waveId: row.wave_id,
    command: row.command,
    rule: row.rule,
    args: row.args,
    hash: row.hash,
    requestedBy: row.requested_by,
    expiresAt: row.expires_at,
    ...extra,
  };
}

/**
 * The check a command that needs a second key makes, in its own transaction (under the wave's lock): an approved
 * request bound to the same hash lets it run once (consumed in the same transaction as the command); otherwise the
 * open request is kept, or replaced when what it was bound to moved, and the command waits for it.
 */
export class ApprovalGate {
  private readonly approvals = new ApprovalRepository();

  constructor(readonly settings: ApprovalSettings) {}

  async check(sql: Sql, subject: ApprovalSubject, rule: ApprovalRule, requester: Requester): Promise<GateOutcome> {
    await this.approvals.expireDue(sql);
    const hash = approvalHash(subject);
    const argsKey = canonicalJson(subject.args);
    const open = await this.approvals.lockOpen(sql, subject.waveId, subject.command, argsKey);
    if (open) {
      const refused = canExecute(recordOf(open), hash, new Date());
      if (!refused) {
        await this.approvals.markExecuted(sql, open.id);
        await audit(sql, {
          actor: requester.actor,
          action: 'approval.executed',
          ...approvalAuditTarget(open),
          detail: approvalDetail(open, { approvedBy: open.decided_by }),
        });
        return { run: true, approvalId: open.id };
      }
      if (open.hash === hash) return { run: false, request: open };
      await this.invalidate(sql, open, subject, requester.actor);
    }
    const request = await this.approvals.insert(sql, {
      waveId: subject.waveId,
      command: subject.command,
      rule,
      args: subject.args,
      argsKey,
      plan: subject.plan,
      counts: subject.counts,
      hash,
      requestedBy: requester.actor,
      requestedKey: requester.key,
      ttlSeconds: this.settings.ttlSeconds,
    });
    await audit(sql, {
      actor: requester.actor,
      action: 'approval.requested',
      ...approvalAuditTarget(request),
      detail: approvalDetail(request, { counts: request.counts }),
    });
    return { run: false, request };
  }

  /** Whether a key behind this approval (its requester's, its approver's) was revoked since. */
  keyRevoked(sql: Sql, approvalId: string): Promise<boolean> {
    return this.approvals.keyRevoked(sql, approvalId);
  }

  /**
   * A change of the wave's plan (`plan`, as now stored) ends every open request of the wave but `except` (the
   * one this change carries out): they were bound to the plan before it.
   */
  async planChanged(
    sql: Sql,
    waveId: string,
    planNow: () => Promise<CanonicalPlan | null>,
    actor: string,
    except: string | null,
  ): Promise<void> {
    const open = await this.approvals.lockOpenOfWave(sql, waveId, except);
    if (!open.length) return;
    const plan = await planNow();
    for (const request of open) await this.invalidate(sql, request, { plan, counts: request.counts }, actor);
  }

  /** Ends an open request whose subject moved, audited with what moved, field by field. */
  async invalidate(
    sql: Sql,
    open: ApprovalRow,
    now: Pick<ApprovalSubject, 'plan' | 'counts'>,
    actor: string,
  ): Promise<void> {
    const changes = [
      ...diffJson(open.plan ?? {}, now.plan ?? {}, 'plan'),
      ...diffJson(open.counts ?? {}, now.counts ?? {}, 'counts'),
    ];
    const reason = changes.some((c) => c.field.startsWith('plan')) ? 'plan_changed' : 'counts_changed';
    await this.approvals.invalidate(sql, open.id, reason);
    await audit(sql, {
      actor,
      action: 'approval.invalidated',
      ...approvalAuditTarget(open),
      detail: approvalDetail(open, { reason, changes }),
    });
  }
}

export function recordOf(row: ApprovalRow) {
  return {
    state: row.state,
    hash: row.hash,
    requestedBy: row.requested_key,
    requestedActor: row.requested_by,
    expiresAt: row.expires_at,
  };
}
