import { DataSource } from 'typeorm';
import { OperationEntity } from '@app/db';
import { rollbackSettleDelta } from '@app/domain';
import { Mailstore, withRetries } from '@app/mailstore';
import { patchAnswer, rollbackOutcome } from '../engine/member-outcome';
import { audit } from '../db/audit-log';
import { applyCounters } from '../db/wave-counters';
import { withTransaction } from '../db/transaction';
import { EngineMetrics, NO_ENGINE_METRICS } from '../engine/engine-metrics';
import { Throttle } from '../engine/throttle';
import { recordCallRow } from './operation-calls';

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
    private readonly client: Mailstore,
    private readonly throttle: Throttle,
    private readonly metrics: EngineMetrics = NO_ENGINE_METRICS,
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
        if (o.kind === 'rate_limited' || o.kind === 'unavailable') {
          await this.throttle.penalize(o.retryAfterMs);
          this.metrics.retryAfter('operation', o.retryAfterMs);
        }
        return o;
      },
      { maxAttempts: 5, maxRateLimitWaitMs: 60_000 },
    );
    const latencyMs = Date.now() - startedAt.getTime();
    return withTransaction(this.dataSource, async ({ sql }) => {
      await recordCallRow(sql, { operationId: op.id, startedAt, latencyMs, outcome });
      if (op.kind === 'rollback' && op.waveId !== null && op.waveSeq !== null) {
        // The member ends as a wave rollback batch would have ended it on the same answer.
        const member = rollbackOutcome(patchAnswer(outcome));
        await sql(
          `UPDATE wave_members SET rollback_state = $3, rollback_reason = $4, rolled_back_at = now() WHERE wave_id = $1 AND seq = $2`,
          [op.waveId, op.waveSeq, member.state, member.state === 'failed' ? member.reason : null],
        );
        await applyCounters(sql, op.waveId, rollbackSettleDelta([member]));
      }
      if (outcome.kind === 'ok') {
        const v = outcome.value;
        // Never back in time: a wave's answer with a later version may have been written first.
        await sql(
          `UPDATE accounts SET imap_enabled = COALESCE($2, imap_enabled), pop3_enabled = COALESCE($3, pop3_enabled),
                  mailstore_version = $4, state_observed_at = now(), updated_at = now()
            WHERE id = $1 AND (mailstore_version IS NULL OR mailstore_version <= $4)`,
          [op.accountId, v.protocols.imap ?? null, v.protocols.pop3 ?? null, v.version],
        );
        await sql(
          `UPDATE operations SET state = 'succeeded', outcome = $2, result_version = $3, completed_at = now(), updated_at = now() WHERE id = $1`,
          [op.id, v.changed ? 'applied' : 'unchanged', v.version],
        );
        await audit(sql, {
          actor: op.actor,
          action: op.kind === 'rollback' ? 'support.rolled_back' : `support.${op.kind}d`,
          accountId: op.accountId,
          login: op.login,
          operationId: op.id,
          reason: op.reason,
          ticket: op.ticket,
          after: { ...v.protocols, version: v.version, changed: v.changed },
        });
        return 'succeeded' as const;
      }
      const error = {
        kind: outcome.kind,
        ...('code' in outcome ? { code: outcome.code } : {}),
        ...('status' in outcome ? { status: outcome.status } : {}),
      };
      await sql(
        `UPDATE operations SET state = 'failed', outcome = $2, error = $3, completed_at = now(), updated_at = now() WHERE id = $1`,
        [op.id, 'code' in outcome ? outcome.code : outcome.kind, JSON.stringify(error)],
      );
      await audit(sql, {
        actor: op.actor,
        action: `support.${op.kind}_failed`,
        accountId: op.accountId,
        login: op.login,
        operationId: op.id,
        reason: op.reason,
        ticket: op.ticket,
        detail: error,
      });
      return 'failed' as const;
    });
  }
}
