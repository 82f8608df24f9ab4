import { DataSource } from 'typeorm';
import { SqlParams } from '../db/sql-params';

/** An audit_log row as read. */
export interface AuditRow {
  id: string;
  at: Date;
  actor: string;
  action: string;
  wave_id: string | null;
  account_id: string | null;
  login: string | null;
  operation_id: string | null;
  reason: string | null;
  ticket: string | null;
  before: unknown;
  after: unknown;
  detail: unknown;
}

/** Which entries a page holds, already checked and normalised (AuditQueryService). */
export interface AuditFilter {
  waveId?: string;
  /** As stored: lower-case. */
  login?: string;
  from?: Date;
  to?: Date;
  action?: { exact: string } | { prefix: string };
  /** Every entry but the per-member ledger rows (`member.*`). */
  commandsOnly: boolean;
  /** Of those, only the entries about a wave (commands, gate pauses and halts, approvals: a wave id, no member). */
  wavesOnly?: boolean;
  /** Keyset: only entries older (smaller id) than this one. */
  beforeId?: string;
  limit: number;
}

/**
 * The reads of the append-only audit log (its one writer is db/audit-log.ts), on the pool. Each filter maps onto
 * one of the log's indexes: (wave_id, id), (login, id), (at), and the partial index of non-member entries.
 */
export class AuditRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Newest first, at most `limit` rows. */
  async page(filter: AuditFilter): Promise<AuditRow[]> {
    const where: string[] = [];
    const { values, add } = new SqlParams();
    if (filter.waveId) where.push(`wave_id = ${add(filter.waveId)}`);
    if (filter.login) where.push(`login = ${add(filter.login)}`);
    if (filter.from) where.push(`at >= ${add(filter.from)}`);
    if (filter.to) where.push(`at < ${add(filter.to)}`);
    if (filter.action && 'prefix' in filter.action) where.push(`starts_with(action, ${add(filter.action.prefix)})`);
    if (filter.action && 'exact' in filter.action) where.push(`action = ${add(filter.action.exact)}`);
    // Exactly the predicate of the partial index audit_log_commands_idx (newest commands at once, however many
    // member rows were written since).
    if (filter.commandsOnly || filter.wavesOnly) where.push(`action NOT LIKE 'member.%'`);
    if (filter.wavesOnly) where.push(`wave_id IS NOT NULL`);
    if (filter.beforeId) where.push(`id < ${add(filter.beforeId)}`);
    return this.dataSource.query<AuditRow[]>(
      `SELECT id, at, actor, action, wave_id, account_id, login, operation_id, reason, ticket, before, after, detail
         FROM audit_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
        ORDER BY id DESC LIMIT ${add(filter.limit)}`,
      values,
    );
  }
}
