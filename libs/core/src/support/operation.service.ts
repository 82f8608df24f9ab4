import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import {
  DEFAULT_OVERRIDE_TTL_S,
  eligibilityAccount,
  isProtocol,
  operationKey,
  Protocol,
  rollbackClaimDelta,
  supportDisableDecision,
  supportEnableDecision,
} from '@app/domain';
import { AccountEntity, OperationEntity } from '@app/db';
import { QueueProducer } from '@app/queue';
import { ConflictError, NotFoundError, ValidationError } from '../errors';
import { nudge } from '../queue-nudge';
import { SendPermitFence } from '../permits';
import { audit } from '../db/audit-log';
import { sqlOfDataSource } from '../db/sql';
import { applyCounters } from '../db/wave-counters';
import { withTransaction } from '../db/transaction';
import { endOverride, recordOverride } from './override.service';
import { checkReasonAndTicket } from './reason-and-ticket';

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
}

/**
 * The support lane: one account, a reason and a ticket, ahead of any wave. The request is recorded (operation +
 * audit) in one transaction and queued on its own queue; the worker applies it through the same global pace as
 * the waves, with priority, so it never waits behind a wave's backlog. The job is a nudge: while Redis is unreachable
 * the request is still recorded and answered, and the reconciler queues it once Redis is back.
 */
@Injectable()
export class OperationService {
  private readonly fence = new SendPermitFence();

  constructor(
    private readonly dataSource: DataSource,
    private readonly producer: QueueProducer,
    private readonly incidentAt: Date,
    private readonly options: OperationServiceOptions = { overrideTtlMs: DEFAULT_OVERRIDE_TTL_S * 1000 },
  ) {}

  async request(
    login: string,
    kind: 'enable' | 'disable',
    input: SupportChangeInput,
    actor: string,
  ): Promise<OperationEntity> {
    checkReasonAndTicket(input);
    const protocols = input.protocols ?? ['imap', 'pop3'];
    if (input.override !== undefined && (kind !== 'enable' || typeof input.override !== 'boolean')) {
      throw new ValidationError([
        { field: 'override', message: 'override must be true or false, and only on an enable' },
      ]);
    }
    if (
      !Array.isArray(protocols) ||
      !protocols.length ||
      !protocols.every(isProtocol) ||
      new Set(protocols).size !== protocols.length
    ) {
      throw new ValidationError([
        { field: 'protocols', message: "protocols must be a non-empty list of distinct 'imap', 'pop3'" },
      ]);
    }
    const { saved: op, overrideEnded } = await withTransaction(this.dataSource, async ({ sql, manager: m }) => {
      const account = await m.findOne(AccountEntity, {
        where: { login: login.toLowerCase() },
        lock: { mode: 'pessimistic_write' },
      });
      if (!account) throw new NotFoundError('account', login);
      const view = eligibilityAccount(account, new Date());
      const decision =
        kind === 'enable'
          ? supportEnableDecision({
              account: view,
              protocols,
              reason: input.reason,
              ticket: input.ticket,
              incidentAt: this.incidentAt,
              override: input.override,
            })
          : supportDisableDecision({ account: view, protocols, reason: input.reason, ticket: input.ticket });
      if (!decision.allowed) {
        const error = { field: decision.field, message: decision.message };
        if (decision.code === 'override_required') {
          throw new ConflictError(decision.code, decision.message, { login: account.login, errors: [error] });
        }
        throw new ValidationError([error]);
      }
      // The override is on the account: later waves include it too, until it expires or ends.
      const overrideExpiresAt = decision.recordOverride
        ? await recordOverride(sql, account.id, {
            reason: input.reason,
            ticket: input.ticket,
            actor,
            ttlMs: this.options.overrideTtlMs,
          })
        : null;
      // A re-block ends the override (a later wave holds the account back again), expired or not.
      const overrideEnded = kind === 'disable' && view.overrideActive;
      if (kind === 'disable' && hasOverrideOnFile(account)) await endOverride(sql, account.id);
      const saved = await m.save(
        m.create(OperationEntity, {
          ...operationIdentity(),
          accountId: account.id,
          login: account.login,
          kind,
          protocols: [...protocols].sort(),
          reason: input.reason,
          ticket: input.ticket,
          actor,
          overrides: decision.overrides,
          overrideExpiresAt,
        }),
      );
      await audit(sql, {
        actor,
        action: `support.${kind}_requested`,
        accountId: account.id,
        login: account.login,
        operationId: saved.id,
        reason: input.reason,
        ticket: input.ticket,
        before: { imap: account.imapEnabled, pop3: account.pop3Enabled, held: account.held },
        detail: {
          protocols,
          overrides: decision.overrides,
          ...(overrideExpiresAt ? { overrideExpiresAt } : {}),
          ...(overrideEnded ? { overrideEnded } : {}),
        },
      });
      return { saved, overrideEnded };
    });
    // As for a hold: once a disable that ended an override returns, no wave call that counted on it can start.
    if (overrideEnded)
      await this.fence.waitForSendPermits(sqlOfDataSource(this.dataSource), { accountId: op.accountId });
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
  ): Promise<OperationEntity> {
    checkReasonAndTicket(input);
    const op = await withTransaction(this.dataSource, async ({ sql, manager: m }) => {
      const account = await m.findOne(AccountEntity, { where: { login: login.toLowerCase() } });
      if (!account) throw new NotFoundError('account', login);
      const rows = await sql<{
        wave_id: string;
        seq: number;
        prior_imap: boolean;
        prior_pop3: boolean;
        result_version: number | null;
        protocols: Protocol[];
        wave_rolling_back: boolean;
      }>(
        // FOR SHARE OF w: a wave rollback command holds the wave row while it counts the members it will restore;
        // this waits for it and then reads the row as it left it (see below).
        `SELECT m.wave_id, m.seq, m.prior_imap, m.prior_pop3, m.result_version, w.protocols,
                w.rollback_started_at IS NOT NULL AS wave_rolling_back
           FROM wave_members m JOIN waves w ON w.id = m.wave_id
          WHERE m.account_id = $1 AND m.state = 'enabled' AND m.rollback_state IS NULL
            AND ($2::uuid IS NULL OR m.wave_id = $2::uuid)
          ORDER BY m.done_at DESC LIMIT 1
          FOR UPDATE OF m FOR SHARE OF w`,
        [account.id, input.waveId ?? null],
      );
      const member = rows[0];
      if (!member) {
        throw new ConflictError('nothing_to_roll_back', `no wave change on ${account.login} is left to roll back`, {
          login: account.login,
        });
      }
      const opened = member.protocols.filter((p) => (p === 'imap' ? !member.prior_imap : !member.prior_pop3));
      if (!opened.length) {
        throw new ConflictError('nothing_to_roll_back', `the wave did not change ${account.login}'s protocols`, {
          login: account.login,
        });
      }
      await sql(`UPDATE wave_members SET rollback_state = 'in_flight' WHERE wave_id = $1 AND seq = $2`, [
        member.wave_id,
        member.seq,
      ]);
      // Once its wave's rollback has begun, the member is already counted as pending there: support takes it
      // ahead of the pumps (pending → in flight) instead of counting it a second time.
      await applyCounters(
        sql,
        member.wave_id,
        member.wave_rolling_back ? rollbackClaimDelta(1) : { 'rollback:total': 1, 'rollback:in_flight': 1 },
      );
      const saved = await m.save(
        m.create(OperationEntity, {
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
        }),
      );
      await audit(sql, {
        actor,
        action: 'support.rollback_requested',
        waveId: member.wave_id,
        accountId: account.id,
        login: account.login,
        operationId: saved.id,
        reason: input.reason,
        ticket: input.ticket,
        detail: { protocols: opened, ifVersion: member.result_version },
      });
      return saved;
    });
    await nudge(() => this.producer.addOperation(op.id));
    return op;
  }

  async get(id: string): Promise<OperationEntity> {
    const op = await this.dataSource.getRepository(OperationEntity).findOne({ where: { id } });
    if (!op) throw new NotFoundError('operation', id);
    return op;
  }

  /** Keeps an account out of every wave (or lets it back), audited. */
  async setHold(
    login: string,
    hold: boolean,
    input: { reason: string; ticket: string },
    actor: string,
  ): Promise<AccountEntity> {
    checkReasonAndTicket(input);
    const held = await withTransaction(this.dataSource, async ({ sql, manager: m }) => {
      const account = await m.findOne(AccountEntity, {
        where: { login: login.toLowerCase() },
        lock: { mode: 'pessimistic_write' },
      });
      if (!account) throw new NotFoundError('account', login);
      await sql(
        `UPDATE accounts SET held = $2, hold_reason = $3, hold_ticket = $4, held_by = $5, held_at = CASE WHEN $2 THEN now() END,
                version = version + 1, updated_at = now() WHERE id = $1`,
        [account.id, hold, hold ? input.reason : null, hold ? input.ticket : null, hold ? actor : null],
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
      if (hold && hasOverrideOnFile(account)) await endOverride(sql, account.id);
      // Last, so it is held only until the commit: permits decided before it are refused from now on.
      if (hold) await this.fence.bumpEligibilityEpoch(sql);
      return (await m.findOne(AccountEntity, { where: { id: account.id } }))!;
    });
    // The account row's update conflicts with any send permit reading it (FOR SHARE): permits granted before the
    // commit start their call within their window or never. Once this returns, no wave call containing the
    // account can start (invariant 6).
    if (hold) await this.fence.waitForSendPermits(sqlOfDataSource(this.dataSource), { accountId: held.id });
    return held;
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

/** An override recorded on the account, live or expired (ending it clears the record either way). */
function hasOverrideOnFile(account: AccountEntity): boolean {
  return account.overrideExpiresAt !== null || account.overrideReason !== null || account.overrideTicket !== null;
}
