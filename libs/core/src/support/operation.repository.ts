import { DataSource, EntityManager } from 'typeorm';
import { OperationEntity } from '@app/db';
import { Sql } from '../db/sql';
import type { CallRecord } from '../engine/call-record';

/** A new operation's values (its id drawn by the service, so that its idempotency key derives from it). */
export type NewOperation = Pick<
  OperationEntity,
  'id' | 'idempotencyKey' | 'accountId' | 'login' | 'kind' | 'protocols' | 'reason' | 'ticket' | 'actor'
> &
  Partial<
    Pick<
      OperationEntity,
      | 'overrides'
      | 'overrideExpiresAt'
      | 'waveId'
      | 'waveSeq'
      | 'ifVersion'
      | 'priorImap'
      | 'priorPop3'
      | 'clientKey'
      | 'clientRequestHash'
    >
  >;

/**
 * The statements on support operations (and the log row of their calls). SQL only: what an operation is and how
 * its outcome is read are OperationService's and OperationRunner's. Statements in a transaction take its executor;
 * the others run on the pool.
 */
export class OperationRepository {
  constructor(private readonly dataSource: DataSource) {}

  async insert(m: EntityManager, op: NewOperation): Promise<OperationEntity> {
    return m.save(m.create(OperationEntity, op));
  }

  /**
   * The operation this caller made under its own Idempotency-Key, if any, after taking the key's transaction lock:
   * two requests with one key are decided one after the other (the second sees the first's operation).
   */
  async lockClientKey(m: EntityManager, sql: Sql, actor: string, clientKey: string): Promise<OperationEntity | null> {
    await sql(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, [
      JSON.stringify(['operation-client-key', actor, clientKey]),
    ]);
    return m.getRepository(OperationEntity).findOne({ where: { actor, clientKey } });
  }

  async findById(id: string): Promise<OperationEntity | null> {
    return this.dataSource.getRepository(OperationEntity).findOne({ where: { id } });
  }

  /** The account's latest operations, newest first. */
  async recentForAccount(accountId: number, take: number): Promise<OperationEntity[]> {
    return this.dataSource
      .getRepository(OperationEntity)
      .find({ where: { accountId }, order: { createdAt: 'DESC' }, take });
  }

  /** An operation on the same account asked before `op` and not finished yet, if any. */
  async earlierUnfinished(op: Pick<OperationEntity, 'id' | 'accountId' | 'createdAt'>): Promise<string | undefined> {
    const [earlier] = await this.dataSource.query<{ id: string }[]>(
      `SELECT id FROM operations
        WHERE account_id = $1 AND state IN ('queued', 'running') AND (created_at, id) < ($2, $3) LIMIT 1`,
      [op.accountId, op.createdAt, op.id],
    );
    return earlier?.id;
  }

  /** The operation is being run (one more attempt). */
  /**
   * Marks a run of the operation begun, if no other run began since `op` was read (its attempts unchanged): the run's
   * attempt number is then its fence (holds). False: another run has it. attempted_at on PostgreSQL's clock, before
   * any call of this run: what recordObservedAccess orders answers by.
   */
  async markRunning(op: Pick<OperationEntity, 'id' | 'attempts'>): Promise<boolean> {
    const rows = await this.dataSource.query<unknown[]>(
      `UPDATE operations SET state = 'running', attempts = attempts + 1, updated_at = now(), attempted_at = now()
        WHERE id = $1 AND attempts = $2 RETURNING 1`,
      [op.id, op.attempts],
    );
    return rows.length > 0;
  }

  /**
   * Whether the run whose attempt number is `fence` still has the operation (running, no later run begun), locking its
   * row for the transaction that writes the run's outcome. A run whose worker froze past its job's lock, and whose
   * operation another worker ran again, must not write its older answer over the later run's.
   */
  async holds(sql: Sql, id: string, fence: number): Promise<boolean> {
    const rows = await sql(
      `SELECT 1 FROM operations WHERE id = $1 AND attempts = $2 AND state = 'running' FOR UPDATE`,
      [id, fence],
    );
    return rows.length > 0;
  }

  /** A rollback asked again at `ifVersion` (OperationRunner.reasked), under its own key. */
  async reask(sql: Sql, id: string, ifVersion: number, idempotencyKey: string): Promise<void> {
    await sql(`UPDATE operations SET if_version = $2, idempotency_key = $3, updated_at = now() WHERE id = $1`, [
      id,
      ifVersion,
      idempotencyKey,
    ]);
  }

  async markSucceeded(sql: Sql, id: string, outcome: 'applied' | 'unchanged', resultVersion: number): Promise<void> {
    await sql(
      `UPDATE operations SET state = 'succeeded', outcome = $2, result_version = $3, completed_at = now(), updated_at = now() WHERE id = $1`,
      [id, outcome, resultVersion],
    );
  }

  async markFailed(sql: Sql, id: string, outcome: string, error: Record<string, unknown>): Promise<void> {
    await sql(
      `UPDATE operations SET state = 'failed', outcome = $2, error = $3, completed_at = now(), updated_at = now() WHERE id = $1`,
      [id, outcome, JSON.stringify(error)],
    );
  }

  /** The support lane's calls go to the same log as the waves' (latency and error-rate metrics). */
  async recordCall(sql: Sql, operationId: string, call: CallRecord): Promise<void> {
    await sql(
      `INSERT INTO mailstore_calls (operation_id, started_at, latency_ms, http_status, outcome, items, item_errors)
       VALUES ($1, $2, $3, $4, $5, 1, $6)`,
      [operationId, call.startedAt, Math.round(call.latencyMs), call.httpStatus, call.outcome, call.itemErrors],
    );
  }
}
