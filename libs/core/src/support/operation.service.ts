import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import {
  approvalRuleFor,
  ApprovalSubject,
  DEFAULT_OVERRIDE_TTL_S,
  eligibilityAccount,
  operationKey,
  Protocol,
} from '@app/domain';
import { AccountEntity, OperationEntity } from '@app/db';
import { QueueProducer } from '@app/queue';
import { ApprovalGate, Requester } from '../approvals/approval-gate';
import { ApprovalRow } from '../approvals/approval.repository';
import { ApprovalRequiredError, ConflictError, NotFoundError } from '../errors';
import { nudge } from '../queue-nudge';
import { AccountRepository } from '../accounts/account.repository';
import { audit } from '../db/audit-log';
import { Sql, sqlOfDataSource } from '../db/sql';
import { applyCounters } from '../db/wave-counters';
import { Tx, withTransaction } from '../db/transaction';
import { SendPermitFence } from '../permits';
import { MemberRollbackRepository } from './member-rollback.repository';
import { OperationRepository } from './operation.repository';
import { OverrideService } from './override.service';
import { ClientKey, clientColumns } from './client-key';
import { checkReasonAndTicket } from './reason-and-ticket';
import {
  decideSupportChange,
  hasOverrideOnFile,
  operationAction,
  requestedProtocols,
  rollbackTarget,
  supportRollbackDelta,
} from './support-rules';

export interface SupportChangeInput {
  protocols?: Protocol[];
  reason: string;
  ticket: string;
  /** Enable only: the explicit consent to open an account a wave would hold back (supportEnableDecision). */
  override?: boolean;
}

export interface OperationServiceOptions {
  /** How long an override of `password_reset_required` given by a support enable lasts (SUPPORT_OVERRIDE_TTL_S). */
  overrideTtlMs: number;
  /** Two-person approval (docs/approvals.md): rule `support_override` puts an override behind a second ops key. */
  approvals?: ApprovalGate;
}

/**
 * The support lane: one account, a reason and a ticket, ahead of any wave. The request is recorded (operation +
 * audit) in one transaction and queued on its own queue; the worker applies it through the same global pace as
 * the waves, with priority, so it never waits behind a wave's backlog (OperationRunner). The job is a nudge: while
 * Redis is unreachable the request is still recorded and answered, and the reconciler queues it once Redis is back.
 */
@Injectable()
export class OperationService {
  private readonly accounts: AccountRepository;
  private readonly operations: OperationRepository;
  private readonly members = new MemberRollbackRepository();
  private readonly overrides: OverrideService;
  private readonly fence = new SendPermitFence();

  constructor(
    private readonly dataSource: DataSource,
    private readonly producer: QueueProducer,
    private readonly incidentAt: Date,
    private readonly options: OperationServiceOptions = { overrideTtlMs: DEFAULT_OVERRIDE_TTL_S * 1000 },
  ) {
    this.accounts = new AccountRepository(dataSource);
    this.operations = new OperationRepository(dataSource);
    this.overrides = new OverrideService(dataSource);
  }

  async request(
    login: string,
    kind: 'enable' | 'disable',
    input: SupportChangeInput,
    actor: string,
    /** The caller's key id, from the API: its override may need a second ops key. */
    key?: string,
    client?: ClientKey,
  ): Promise<OperationEntity> {
    checkReasonAndTicket(input);
    const protocols = requestedProtocols(kind, input);
    const requester = key ? { actor, key } : null;
    const outcome = await withTransaction(this.dataSource, async (tx) => {
      const earlier = client ? await this.earlierRequest(tx, actor, client) : null;
      if (earlier) return { earlier };
      const account = await this.accounts.findByLogin(tx.manager, login.toLowerCase(), true);
      if (!account) throw new NotFoundError('account', login);
      return this.recordChange(tx, account, kind, protocols, input, actor, requester, client);
    });
    if ('earlier' in outcome) return outcome.earlier;
    if ('request' in outcome) throw overrideApprovalRequired(outcome.request);
    const { op, overrideEnded } = outcome;
    // As for a hold: once a disable that ended an override returns, no wave call that counted on it can start.
    if (overrideEnded) {
      await this.fence.waitForSendPermits(sqlOfDataSource(this.dataSource), { accountId: op.accountId });
    }
    await nudge(() => this.producer.addOperation(op.id));
    return op;
  }

  /**
   * Rolls one account back to the state it had before a wave opened it (the latest wave that enabled it, or the
   * given one): only the protocols that wave turned on, with If-Match on the version our change produced, so a
   * later change (by support, say) is reported as a conflict and kept. The member is marked in flight at once,
   * so a wave rollback cannot restore it twice.
   */
  async requestRollback(
    login: string,
    input: { waveId?: string; reason: string; ticket: string },
    actor: string,
    client?: ClientKey,
  ): Promise<OperationEntity> {
    checkReasonAndTicket(input);
    const op = await withTransaction(this.dataSource, async ({ sql, manager }) => {
      const earlier = client ? await this.earlierRequest({ sql, manager }, actor, client) : null;
      if (earlier) return { earlier };
      const account = await this.accounts.findByLogin(manager, login.toLowerCase());
      if (!account) throw new NotFoundError('account', login);
      const found = await this.members.lockRestorable(sql, account.id, input.waveId ?? null);
      const { member, opened } = rollbackTarget(found, account.login);
      await this.members.markInFlight(sql, member.wave_id, member.seq);
      await applyCounters(sql, member.wave_id, supportRollbackDelta(member.wave_rolling_back));
      const saved = await this.operations.insert(manager, {
        ...operationIdentity(),
        accountId: account.id,
        login: account.login,
        kind: 'rollback',
        protocols: opened.sort(),
        reason: input.reason,
        ticket: input.ticket,
        actor,
        waveId: member.wave_id,
        waveSeq: member.seq,
        ifVersion: member.result_version,
        priorImap: member.prior_imap,
        priorPop3: member.prior_pop3,
        ...clientColumns(client),
      });
      await this.auditRequest(sql, saved, { protocols: opened, ifVersion: member.result_version });
      return saved;
    });
    if ('earlier' in op) return op.earlier;
    await nudge(() => this.producer.addOperation(op.id));
    return op;
  }

  /** The operation this caller's key made before, for the same request; a 409 when the key came with another one. */
  private async earlierRequest(
    { sql, manager }: Pick<Tx, 'sql' | 'manager'>,
    actor: string,
    client: ClientKey,
  ): Promise<OperationEntity | null> {
    const earlier = await this.operations.lockClientKey(manager, sql, actor, client.key);
    if (earlier && earlier.clientRequestHash !== client.hash) {
      throw new ConflictError(
        'idempotency_key_reused',
        'this Idempotency-Key was sent with another request: use a new key for a new request',
        { field: 'Idempotency-Key', operationId: earlier.id },
      );
    }
    return earlier;
  }

  async get(id: string): Promise<OperationEntity> {
    const op = await this.operations.findById(id);
    if (!op) throw new NotFoundError('operation', id);
    return op;
  }

  /**
   * Keeps an account out of every wave (or lets it back), audited. Lifting a hold overrides it as an enable with
   * `override` does: under the `support_override` rule it waits for a second ops key too (`key`: the caller's).
   */
  async setHold(
    login: string,
    hold: boolean,
    input: { reason: string; ticket: string },
    actor: string,
    key?: string,
  ): Promise<AccountEntity> {
    checkReasonAndTicket(input);
    const outcome = await withTransaction<{ request: ApprovalRow } | { held: AccountEntity }>(
      this.dataSource,
      async ({ sql, manager }) => {
        const account = await this.accounts.findByLogin(manager, login.toLowerCase(), true);
        if (!account) throw new NotFoundError('account', login);
        if (!hold && account.held && key) {
          const change: OverrideChange = { kind: 'release', protocols: [], reason: input.reason, ticket: input.ticket };
          const request = await this.overrideApproval(sql, account, change, { actor, key });
          if (request) return { request };
        }
        await this.accounts.setHold(
          sql,
          account.id,
          hold ? { reason: input.reason, ticket: input.ticket, by: actor } : null,
        );
        await audit(sql, {
          actor,
          action: hold ? 'support.hold' : 'support.unhold',
          accountId: account.id,
          login: account.login,
          reason: input.reason,
          ticket: input.ticket,
          before: { held: account.held },
          after: { held: hold },
        });
        // A hold also ends a support override of the leaked-password rule (it does not come back with the unhold).
        if (hold && hasOverrideOnFile(account)) await this.overrides.end(sql, account.id);
        // Last, so it is held only until the commit: permits decided before it are refused from now on.
        if (hold) await this.fence.bumpEligibilityEpoch(sql);
        return { held: (await this.accounts.findById(manager, account.id))! };
      },
    );
    if ('request' in outcome) throw overrideApprovalRequired(outcome.request);
    const { held } = outcome;
    // The account row's update conflicts with any send permit reading it (FOR SHARE): permits granted before the
    // commit start their call within their window or never. Once this returns, no wave call containing the
    // account can start (invariant 6).
    if (hold) await this.fence.waitForSendPermits(sqlOfDataSource(this.dataSource), { accountId: held.id });
    return held;
  }

  /** Decides an enable or disable on the locked account and records it: the override, the operation, the audit row. */
  private async recordChange(
    { sql, manager }: Tx,
    account: AccountEntity,
    kind: 'enable' | 'disable',
    protocols: Protocol[],
    input: SupportChangeInput,
    actor: string,
    requester: Requester | null,
    client: ClientKey | undefined,
  ): Promise<{ op: OperationEntity; overrideEnded: boolean } | { request: ApprovalRow }> {
    const view = eligibilityAccount(account, new Date());
    const { reason, ticket } = input;
    const request = { ...input, account: view, protocols, incidentAt: this.incidentAt };
    const decision = decideSupportChange(kind, request, account.login);
    if (requester && decision.overrides.length > 0) {
      const request = await this.overrideApproval(sql, account, { kind, protocols, reason, ticket }, requester);
      if (request) return { request };
    }
    // The override is on the account: later waves include it too, until it expires or ends.
    const overrideExpiresAt = decision.recordOverride
      ? await this.overrides.record(sql, account.id, { reason, ticket, actor, ttlMs: this.options.overrideTtlMs })
      : null;
    // A re-block ends the override (a later wave holds the account back again), expired or not.
    const overrideEnded = kind === 'disable' && view.overrideActive;
    if (kind === 'disable' && hasOverrideOnFile(account)) await this.overrides.end(sql, account.id);
    const op = await this.operations.insert(manager, {
      ...operationIdentity(),
      accountId: account.id,
      login: account.login,
      kind,
      protocols: [...protocols].sort(),
      reason,
      ticket,
      actor,
      overrides: decision.overrides,
      overrideExpiresAt,
      // The account's state as the service knows it (each mailstore answer recorded), beside the audit's `before`.
      priorImap: account.imapEnabled,
      priorPop3: account.pop3Enabled,
      ...clientColumns(client),
    });
    await this.auditRequest(
      sql,
      op,
      {
        protocols,
        overrides: decision.overrides,
        ...(overrideExpiresAt ? { overrideExpiresAt } : {}),
        ...(overrideEnded ? { overrideEnded } : {}),
      },
      { imap: account.imapEnabled, pop3: account.pop3Enabled, held: account.held },
    );
    return { op, overrideEnded };
  }

  /**
   * The `support_override` rule's check of a change that overrides a hold (an enable past it, a release of it), in its
   * transaction: the request it waits for, or undefined when it may run (no such rule, or its approval consumed).
   */
  private async overrideApproval(
    sql: Sql,
    account: AccountEntity,
    change: OverrideChange,
    requester: Requester,
  ): Promise<ApprovalRow | undefined> {
    const gate = this.options.approvals;
    const rule = gate ? approvalRuleFor(gate.settings.deployment, { command: 'support_override' }) : null;
    if (!gate || !rule) return undefined;
    const checked = await gate.check(sql, overrideSubject(account, change), rule, requester);
    return checked.run ? undefined : checked.request;
  }

  /** What an override's approval is bound to, read again now (ApprovalService's show and approve). */
  async approvalSubject(sql: Sql, row: ApprovalRow): Promise<ApprovalSubject> {
    const args = row.args as unknown as { login: string } & OverrideChange;
    const [account] = await sql<AccountEntity>(
      `SELECT id, login, leaked, password_changed_at AS "passwordChangedAt", imap_enabled AS "imapEnabled",
              pop3_enabled AS "pop3Enabled", held, hold_reason AS "holdReason", override_expires_at AS "overrideExpiresAt"
         FROM accounts WHERE login = $1`,
      [args.login],
    );
    if (!account) throw new NotFoundError('account', args.login);
    return overrideSubject(account, args);
  }

  private async auditRequest(sql: Sql, op: OperationEntity, detail: Record<string, unknown>, before?: unknown) {
    await audit(sql, {
      actor: op.actor,
      action: operationAction(op.kind, 'requested'),
      ...(op.waveId ? { waveId: op.waveId } : {}),
      accountId: op.accountId,
      login: op.login,
      operationId: op.id,
      reason: op.reason,
      ticket: op.ticket,
      ...(before !== undefined ? { before } : {}),
      detail,
    });
  }
}

/**
 * A new operation's id, drawn here rather than by PostgreSQL so that its idempotency key can be derived from it
 * (operationKey: from a durable id, never from the time, and the same on every retry of the job).
 */
function operationIdentity(): { id: string; idempotencyKey: string } {
  const id = randomUUID();
  return { id, idempotencyKey: operationKey(id) };
}

/** A change that overrides a hold: an enable past it (its protocols), or its release (`release`, no protocols). */
interface OverrideChange {
  kind: 'enable' | 'disable' | 'release';
  protocols: Protocol[];
  reason: string;
  ticket: string;
}

/** The 409 a support change overriding a hold answers while it waits for a second ops key. */
function overrideApprovalRequired(r: ApprovalRow): ApprovalRequiredError {
  return new ApprovalRequiredError({
    approvalId: r.id,
    rule: r.rule,
    command: r.command,
    waveId: null,
    expiresAt: r.expires_at,
  });
}

/**
 * A support override's approval subject: the request as sent and the account as it was shown (held, leaked, when its
 * password changed, its access, a live override): a change of any of them is a new decision.
 */
function overrideSubject(
  account: Pick<
    AccountEntity,
    | 'login'
    | 'leaked'
    | 'passwordChangedAt'
    | 'imapEnabled'
    | 'pop3Enabled'
    | 'held'
    | 'holdReason'
    | 'overrideExpiresAt'
  >,
  change: OverrideChange,
): ApprovalSubject {
  return {
    waveId: null,
    command: 'support_override',
    args: { login: account.login, ...change, protocols: [...change.protocols].sort() },
    plan: {
      login: account.login,
      leaked: account.leaked,
      passwordChangedAt: account.passwordChangedAt ? new Date(account.passwordChangedAt).toISOString() : null,
      imap: account.imapEnabled,
      pop3: account.pop3Enabled,
      held: account.held,
      holdReason: account.holdReason,
      overrideExpiresAt: account.overrideExpiresAt ? new Date(account.overrideExpiresAt).toISOString() : null,
    },
    counts: null,
  };
}
