import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { FieldErrors } from '@app/domain';
import { ValidationError } from '../errors';
import { AUDIT_KINDS, AUDIT_PAGE, AuditEntryView, AuditPage, AuditQuery } from './audit-query.types';
import { AuditFilter, AuditRepository, AuditRow } from './audit.repository';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ACTION = /^[a-z0-9_.-]{1,64}\*?$/i;
const CURSOR = /^[1-9]\d{0,17}$/;

/**
 * Reads the append-only audit log, newest first, with keyset paging on id (stable while rows are appended:
 * a new entry never shifts a page). Filters map onto the log's indexes: (wave_id, id), (login, id), (at), and the
 * partial index of non-member entries (kind=commands).
 */
@Injectable()
export class AuditQueryService {
  private readonly log: AuditRepository;

  constructor(dataSource: DataSource) {
    this.log = new AuditRepository(dataSource);
  }

  async find(query: AuditQuery): Promise<AuditPage> {
    const limit = validateAuditQuery(query);
    const rows = await this.log.page({ ...auditFilter(query), limit: limit + 1 });
    const page = rows.slice(0, limit).map(toView);
    return { items: page, nextCursor: rows.length > limit ? page[page.length - 1].id : null };
  }
}

/** A checked query as the log's filter: the login as stored, an action family (`support.*`) as a prefix. */
export function auditFilter(query: AuditQuery): Omit<AuditFilter, 'limit'> {
  const action = query.action;
  return {
    waveId: query.waveId,
    login: query.login?.trim().toLowerCase(),
    from: query.from,
    to: query.to,
    action: !action ? undefined : action.endsWith('*') ? { prefix: action.slice(0, -1) } : { exact: action },
    commandsOnly: query.kind === 'commands',
    wavesOnly: query.kind === 'waves',
    beforeId: query.cursor,
  };
}

/** Field-level checks; returns the page size. */
export function validateAuditQuery(query: AuditQuery): number {
  const f = new FieldErrors();
  if (query.waveId !== undefined && !UUID.test(query.waveId)) f.add('waveId', 'must be a UUID');
  if (query.login !== undefined && (query.login.trim() === '' || query.login.length > 254)) {
    f.add('login', 'must be 1–254 characters');
  }
  for (const name of ['from', 'to'] as const) {
    const v = query[name];
    if (v !== undefined && !(v instanceof Date && !Number.isNaN(v.getTime())))
      f.add(name, 'must be an ISO 8601 instant');
  }
  if (query.from && query.to && query.from.getTime() > query.to.getTime()) f.add('to', 'must not be before from');
  if (query.action !== undefined && !ACTION.test(query.action)) {
    f.add('action', 'must be an action name like wave.start, or a family like support.*');
  }
  if (query.kind !== undefined && !(AUDIT_KINDS as readonly string[]).includes(query.kind)) {
    f.add('kind', "must be 'all', 'commands' or 'waves'");
  }
  if (query.cursor !== undefined && !CURSOR.test(query.cursor))
    f.add('cursor', 'must be a cursor from a previous page');
  const limit = query.limit ?? AUDIT_PAGE.defaultLimit;
  f.integerIn('limit', limit, 1, AUDIT_PAGE.maxLimit);
  if (f.errors.length) throw new ValidationError(f.errors);
  return limit;
}

function toView(r: AuditRow): AuditEntryView {
  return {
    id: String(r.id),
    at: r.at,
    actor: r.actor,
    action: r.action,
    waveId: r.wave_id,
    accountId: r.account_id === null ? null : String(r.account_id),
    login: r.login,
    operationId: r.operation_id,
    reason: r.reason,
    ticket: r.ticket,
    before: r.before,
    after: r.after,
    detail: r.detail,
  };
}
