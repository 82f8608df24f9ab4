import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import {
  hasActiveOverride,
  isProtocol,
  Protocol,
  rollbackClaimDelta,
  supportDisableDecision,
  supportEnableDecision,
} from '@app/domain';
import { AccountEntity, OperationEntity } from '@app/db';
import { MailstoreClient, withRetries } from '@app/mailstore';
import { QueueProducer } from '@app/queue';
import { ConflictError, NotFoundError, ValidationError } from '../errors';
import { bumpEligibilityEpoch, waitForSendPermits } from '../engine/send-permit.repository';
import { applyCounters, Sql, sqlOfDataSource } from '../engine/sql';
import { recordCallRow } from './operation-calls';
import { Throttle } from '../engine/throttle';

export interface SupportChangeInput {
  protocols?: Protocol[];
  reason: string;
  ticket: string;
}

const MAX_TEXT = 500;

/**
 * The support lane: one account, a reason and a ticket, ahead of any wave. The request is recorded (operation +
 * audit) in one transaction and queued on its own queue; the worker applies it through the same global pace as
 * the waves, with priority, so it never waits behind a wave's backlog.
 */
@Injectable()
export class OperationService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly producer: QueueProducer,
    private readonly incidentAt: Date,
  ) {}

  async request(
    login: string,
    kind: 'enable' | 'disable',
    input: SupportChangeInput,
    actor: string,
  ): Promise<OperationEntity> {
    this.checkText(input);
    const protocols = input.protocols ?? ['imap', 'pop3'];
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
    const op = await this.dataSource.transaction(async (m) => {
      const account = await m.findOne(AccountEntity, {
        where: { login: login.toLowerCase() },
        lock: { mode: 'pessimistic_write' },
      });
      if (!account) throw new NotFoundError('account', login);
      const view = {
        leaked: account.leaked,
        passwordChangedAt: account.passwordChangedAt,
        held: account.held,
        overrideActive: hasActiveOverride(account),
        imap: account.imapEnabled,
        pop3: account.pop3Enabled,
      };
      const decision =
        kind === 'enable'
          ? supportEnableDecision({
              account: view,
              protocols,
              reason: input.reason,
              ticket: input.ticket,
              incidentAt: this.incidentAt,
            })
          : supportDisableDecision({ account: view, protocols, reason: input.reason, ticket: input.ticket });
      if (!decision.allowed) throw new ValidationError([{ field: decision.field, message: decision.message }]);
      if (decision.overrides.includes('password_reset_required')) {
        // The override is on the account: later waves will not hold it back for the leaked password either.
        await m.query(
          `UPDATE accounts SET override_reason = $2, override_ticket = $3, override_by = $4, override_at = now(),
                  version = version + 1, updated_at = now() WHERE id = $1`,
          [account.id, input.reason, input.ticket, actor],
        );
      }
      const overrideEnded = kind === 'disable' && view.overrideActive;
      if (overrideEnded) await endOverride((t, p) => m.query(t, p), account.id);
      const saved = await m.save(
        m.create(OperationEntity, {
          accountId: account.id,
          login: account.login,
          kind,
          protocols: [...protocols].sort(),
          reason: input.reason,
          ticket: input.ticket,
          actor,
          idempotencyKey: `op-${Date.now().toString(36)}-${account.id}-${Math.random().toString(36).slice(2, 10)}`,
        }),
      );
      await m.query(
        `INSERT INTO audit_log (actor, action, account_id, login, operation_id, reason, ticket, before, detail)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
        [
          actor,
          `support.${kind}_requested`,
          account.id,
          account.login,
          saved.id,
          input.reason,
          input.ticket,
          JSON.stringify({ imap: account.imapEnabled, pop3: account.pop3Enabled, held: account.held }),
          JSON.stringify({ protocols, overrides: decision.overrides, ...(overrideEnded ? { overrideEnded } : {}) }),
        ],
      );
      return saved;
    });
    await this.producer.addOperation(op.id);
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
    this.checkText(input);
    const op = await this.dataSource.transaction(async (m) => {
      const account = await m.findOne(AccountEntity, { where: { login: login.toLowerCase() } });
      if (!account) throw new NotFoundError('account', login);
      const rows = await m.query<
        {
          wave_id: string;
          seq: number;
          prior_imap: boolean;
          prior_pop3: boolean;
          result_version: number | null;
          protocols: Protocol[];
          wave_rolling_back: boolean;
        }[]
      >(
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
      await m.query(`UPDATE wave_members SET rollback_state = 'in_flight' WHERE wave_id = $1 AND seq = $2`, [
        member.wave_id,
        member.seq,
      ]);
      // Once its wave's rollback has begun, the member is already counted as pending there: support takes it
      // ahead of the pumps (pending → in flight) instead of counting it a second time.
      await applyCounters(
        (t, p) => m.query(t, p),
        member.wave_id,
        member.wave_rolling_back ? rollbackClaimDelta(1) : { 'rollback:total': 1, 'rollback:in_flight': 1 },
      );
      const saved = await m.save(
        m.create(OperationEntity, {
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
          idempotencyKey: `op-${Date.now().toString(36)}-${account.id}-${Math.random().toString(36).slice(2, 10)}`,
        }),
      );
      await m.query(
        `INSERT INTO audit_log (actor, action, wave_id, account_id, login, operation_id, reason, ticket, detail)
         VALUES ($1, 'support.rollback_requested', $2, $3, $4, $5, $6, $7, $8)`,
        [
          actor,
          member.wave_id,
          account.id,
          account.login,
          saved.id,
          input.reason,
          input.ticket,
          JSON.stringify({ protocols: opened, ifVersion: member.result_version }),
        ],
      );
      return saved;
    });
    await this.producer.addOperation(op.id);
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
    this.checkText(input);
    const held = await this.dataSource.transaction(async (m) => {
      const account = await m.findOne(AccountEntity, {
        where: { login: login.toLowerCase() },
        lock: { mode: 'pessimistic_write' },
      });
      if (!account) throw new NotFoundError('account', login);
      await m.query(
        `UPDATE accounts SET held = $2, hold_reason = $3, hold_ticket = $4, held_by = $5, held_at = CASE WHEN $2 THEN now() END,
                version = version + 1, updated_at = now() WHERE id = $1`,
        [account.id, hold, hold ? input.reason : null, hold ? input.ticket : null, hold ? actor : null],
      );
      await m.query(
        `INSERT INTO audit_log (actor, action, account_id, login, reason, ticket, before, after) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [
          actor,
          hold ? 'support.hold' : 'support.unhold',
          account.id,
          account.login,
          input.reason,
          input.ticket,
          JSON.stringify({ held: account.held }),
          JSON.stringify({ held: hold }),
        ],
      );
      // A hold also ends a support override of the leaked-password rule (it does not come back with the unhold).
      if (hold && hasActiveOverride(account)) await endOverride((t, p) => m.query(t, p), account.id);
      // Last, so it is held only until the commit: permits decided before it are refused from now on.
      if (hold) await bumpEligibilityEpoch((text, params) => m.query(text, params));
      return (await m.findOne(AccountEntity, { where: { id: account.id } }))!;
    });
    // The account row's update conflicts with any send permit reading it (FOR SHARE): permits granted before the
    // commit start their call within their window or never. Once this returns, no wave call containing the
    // account can start (invariant 6).
    if (hold) await waitForSendPermits(sqlOfDataSource(this.dataSource), { accountId: held.id });
    return held;
  }

  private checkText(input: { reason: string; ticket: string }): void {
    const errors = [];
    if (typeof input.reason !== 'string' || !input.reason.trim() || input.reason.length > MAX_TEXT) {
      errors.push({ field: 'reason', message: `reason must be a non-empty string of at most ${MAX_TEXT} characters` });
    }
    if (typeof input.ticket !== 'string' || !input.ticket.trim() || input.ticket.length > 100) {
      errors.push({ field: 'ticket', message: 'ticket must be a non-empty string of at most 100 characters' });
    }
    if (errors.length) throw new ValidationError(errors);
  }
}

/** Thrown (so the job is retried later) while an earlier operation on the same account is not finished. */
export class EarlierOperationPendingError extends Error {
  constructor(operationId: string, earlierId: string) {
    super(`operation ${operationId} waits for the earlier operation ${earlierId} on the same account`);
    this.name = 'EarlierOperationPendingError';
  }
}

/**
 * Runs one queued operation in the worker: priority slot in the global pace, one PATCH with the operation's own
 * idempotency key (the same on every retry), then the outcome, the account's new state and the audit row.
 */
export class OperationRunner {
  constructor(
    private readonly dataSource: DataSource,
    private readonly client: MailstoreClient,
    private readonly throttle: Throttle,
  ) {}

  async run(operationId: string): Promise<'succeeded' | 'failed' | 'already_done'> {
    const repo = this.dataSource.getRepository(OperationEntity);
    const op = await repo.findOne({ where: { id: operationId } });
    if (!op || op.state === 'succeeded' || op.state === 'failed') return 'already_done';
    // Support's changes to one account apply in the order they were asked (an enable then a re-block must end
    // blocked): an operation waits, by its job's retries, until every earlier one on the account is finished.
    const [earlier] = await this.dataSource.query<{ id: string }[]>(
      `SELECT id FROM operations
        WHERE account_id = $1 AND state IN ('queued', 'running') AND (created_at, id) < ($2, $3) LIMIT 1`,
      [op.accountId, op.createdAt, op.id],
    );
    if (earlier) throw new EarlierOperationPendingError(op.id, earlier.id);
    await repo.update({ id: op.id }, { state: 'running', attempts: op.attempts + 1, updatedAt: new Date() });
    if (!this.client.cachedCapabilities()) await this.client.capabilities();
    const caps = this.client.cachedCapabilities();
    const desired = Object.fromEntries(op.protocols.map((p) => [p, op.kind === 'enable']));
    // Rollback: never clobber a later change (If-Match on the version our wave's change produced).
    const ifMatch = op.kind === 'rollback' && op.ifVersion !== null ? { ifMatch: op.ifVersion } : {};
    const startedAt = new Date();
    const outcome = await withRetries(
      async () => {
        await this.throttle.acquire({
          cost: 1,
          waveRate: 0,
          mailstoreRate: caps?.rateLimits.accountUpdatesPerSecond ?? 0,
          priority: true,
        });
        const o = await this.client.patchAccess(
          op.login,
          {
            protocols: desired,
            revokeSessions: op.kind !== 'enable',
            reason: `support ${op.ticket}: ${op.reason}`.slice(0, 200),
          },
          { idempotencyKey: op.idempotencyKey, requestId: `op-${op.id}`, ...ifMatch },
        );
        if (o.kind === 'rate_limited' || o.kind === 'unavailable') await this.throttle.penalize(o.retryAfterMs);
        return o;
      },
      { maxAttempts: 5, maxRateLimitWaitMs: 60_000 },
    );
    const latencyMs = Date.now() - startedAt.getTime();
    return this.dataSource.transaction(async (m) => {
      await recordCallRow(m, { operationId: op.id, startedAt, latencyMs, outcome });
      if (op.kind === 'rollback' && op.waveId !== null && op.waveSeq !== null) {
        const state =
          outcome.kind === 'ok'
            ? outcome.value.changed
              ? 'rolled_back'
              : 'unchanged'
            : outcome.kind === 'permanent' && outcome.code === 'version_mismatch'
              ? 'conflict'
              : 'failed';
        const reason =
          state === 'failed' ? ('code' in outcome ? outcome.code : outcome.kind).replace(/[^a-z0-9_.-]/gi, '_') : null;
        await m.query(
          `UPDATE wave_members SET rollback_state = $3, rollback_reason = $4, rolled_back_at = now() WHERE wave_id = $1 AND seq = $2`,
          [op.waveId, op.waveSeq, state, reason],
        );
        await applyCounters((t, p) => m.query(t, p), op.waveId, {
          'rollback:in_flight': -1,
          [`rollback:${state}`]: 1,
          ...(reason ? { [`rollback:failed:${reason}`]: 1 } : {}),
        });
      }
      if (outcome.kind === 'ok') {
        const v = outcome.value;
        // Never back in time: a wave's answer with a later version may have been written first.
        await m.query(
          `UPDATE accounts SET imap_enabled = COALESCE($2, imap_enabled), pop3_enabled = COALESCE($3, pop3_enabled),
                  mailstore_version = $4, state_observed_at = now(), updated_at = now()
            WHERE id = $1 AND (mailstore_version IS NULL OR mailstore_version <= $4)`,
          [op.accountId, v.protocols.imap ?? null, v.protocols.pop3 ?? null, v.version],
        );
        await m.query(
          `UPDATE operations SET state = 'succeeded', outcome = $2, result_version = $3, completed_at = now(), updated_at = now() WHERE id = $1`,
          [op.id, v.changed ? 'applied' : 'unchanged', v.version],
        );
        await m.query(
          `INSERT INTO audit_log (actor, action, account_id, login, operation_id, reason, ticket, after) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
          [
            op.actor,
            op.kind === 'rollback' ? 'support.rolled_back' : `support.${op.kind}d`,
            op.accountId,
            op.login,
            op.id,
            op.reason,
            op.ticket,
            JSON.stringify({ ...v.protocols, version: v.version, changed: v.changed }),
          ],
        );
        return 'succeeded' as const;
      }
      const error = {
        kind: outcome.kind,
        ...('code' in outcome ? { code: outcome.code } : {}),
        ...('status' in outcome ? { status: outcome.status } : {}),
      };
      await m.query(
        `UPDATE operations SET state = 'failed', outcome = $2, error = $3, completed_at = now(), updated_at = now() WHERE id = $1`,
        [op.id, 'code' in outcome ? outcome.code : outcome.kind, JSON.stringify(error)],
      );
      await m.query(
        `INSERT INTO audit_log (actor, action, account_id, login, operation_id, reason, ticket, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [
          op.actor,
          `support.${op.kind}_failed`,
          op.accountId,
          op.login,
          op.id,
          op.reason,
          op.ticket,
          JSON.stringify(error),
        ],
      );
      return 'failed' as const;
    });
  }
}

/**
 * Ends a support override of `password_reset_required` (support re-blocked or held the account): later waves hold
 * the account back again. Makes permits decided before it invalid (eligibility epoch), in the caller's transaction.
 */
async function endOverride(sql: Sql, accountId: number): Promise<void> {
  await sql(
    `UPDATE accounts SET override_reason = NULL, override_ticket = NULL, override_by = NULL, override_at = NULL,
            version = version + 1, updated_at = now() WHERE id = $1`,
    [accountId],
  );
  await bumpEligibilityEpoch(sql);
}
