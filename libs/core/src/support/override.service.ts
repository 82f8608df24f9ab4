import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { FieldErrors } from '@app/domain';
import { NotFoundError, ValidationError } from '../errors';
import { SendPermitFence } from '../permits';
import { audit } from '../db/audit-log';
import { Sql, sqlOfDataSource } from '../db/sql';
import { withTransaction } from '../db/transaction';
import { OverrideRepository, OverrideRow } from './override.repository';
import { checkReasonAndTicket } from './reason-and-ticket';

/** A live support override of `password_reset_required`: waves include the account until it expires or ends. */
export interface OverrideView {
  login: string;
  reason: string;
  ticket: string;
  by: string | null;
  at: Date | null;
  expiresAt: Date;
}

export interface OverridePage {
  items: OverrideView[];
  /** Pass as `cursor` for the next page (sooner-expiring first); null on the last page. */
  nextCursor: string | null;
}

export const OVERRIDE_PAGE = { default: 100, max: 500 } as const;

const EXPIRES_KEY = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

/** `<expires_at to the microsecond>|<login>`, base64url: the keyset of the listing's order. */
function encodeCursor(row: { expires_key: string; login: string }): string {
  return Buffer.from(`${row.expires_key}|${row.login}`).toString('base64url');
}

function decodeCursor(cursor: string): [string, string] | undefined {
  if (!/^[A-Za-z0-9_-]{1,400}$/.test(cursor)) return undefined;
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const bar = text.indexOf('|');
  const key = text.slice(0, bar);
  const login = text.slice(bar + 1);
  if (bar < 0 || !EXPIRES_KEY.test(key) || Number.isNaN(Date.parse(key)) || !login || login.length > 254) {
    return undefined;
  }
  return [key, login];
}

/**
 * Support overrides of the leaked-password hold, as ops see and end them. An override is given only by an explicit
 * support enable (`override: true`, OperationService) and ends when it expires, when support disables or holds the
 * account, or when ops revoke it here.
 */
@Injectable()
export class OverrideService {
  private readonly overrides: OverrideRepository;
  private readonly fence = new SendPermitFence();

  constructor(private readonly dataSource: DataSource) {
    this.overrides = new OverrideRepository(dataSource);
  }

  /** Live overrides, the soonest to expire first (keyset paging on expiry, login). */
  async list(query: { limit?: number; cursor?: string }): Promise<OverridePage> {
    const f = new FieldErrors();
    const limit = query.limit ?? OVERRIDE_PAGE.default;
    f.integerIn('limit', limit, 1, OVERRIDE_PAGE.max);
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    if (query.cursor !== undefined && !after) f.add('cursor', 'must be a cursor from a previous page');
    if (f.errors.length) throw new ValidationError(f.errors);
    const rows = await this.overrides.listLive(after, limit + 1);
    const items = rows.slice(0, limit);
    const last = items[items.length - 1];
    return { items: items.map(toView), nextCursor: rows.length > limit && last ? encodeCursor(last) : null };
  }

  /**
   * Ends the live override of one account (audited `override.revoked`), whatever its expiry. Waves hold the account
   * back again from the moment this returns; its current access at the mailstore is not changed (support disables
   * it if it must close now). 404 when the account has no live override.
   */
  async revoke(login: string, input: { reason: string; ticket: string }, actor: string): Promise<OverrideView> {
    checkReasonAndTicket(input);
    const ended = await withTransaction(this.dataSource, async ({ sql }) => {
      const row = await this.overrides.lockLive(sql, login.toLowerCase());
      if (!row) throw new NotFoundError('override', login);
      await this.end(sql, row.accountId);
      await audit(sql, {
        actor,
        action: 'override.revoked',
        accountId: row.accountId,
        login: row.login,
        reason: input.reason,
        ticket: input.ticket,
        before: {
          reason: row.override_reason,
          ticket: row.override_ticket,
          by: row.override_by,
          expiresAt: row.override_expires_at,
        },
      });
      return row;
    });
    // As for a hold: once this returns, no wave call that counted on the override can start.
    await this.fence.waitForSendPermits(sqlOfDataSource(this.dataSource), { accountId: ended.accountId });
    return toView(ended);
  }

  /**
   * Records (or renews) an override of `password_reset_required` on the account, expiring `ttlMs` from now, in the
   * caller's transaction. Returns the expiry.
   */
  async record(
    sql: Sql,
    accountId: number,
    input: { reason: string; ticket: string; actor: string; ttlMs: number },
  ): Promise<Date> {
    return this.overrides.record(sql, accountId, input);
  }

  /**
   * Ends a support override of `password_reset_required` (support re-blocked or held the account, or ops revoked it):
   * later waves hold the account back again. Makes permits decided before it invalid (eligibility epoch), in the
   * caller's transaction.
   */
  async end(sql: Sql, accountId: number): Promise<void> {
    await this.overrides.end(sql, accountId);
    await this.fence.bumpEligibilityEpoch(sql);
  }
}

function toView(r: OverrideRow): OverrideView {
  return {
    login: r.login,
    reason: r.override_reason,
    ticket: r.override_ticket,
    by: r.override_by,
    at: r.override_at,
    expiresAt: r.override_expires_at,
  };
}
