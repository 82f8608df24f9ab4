import { randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import {
  FieldError,
  NOTIFICATION_FORMATS,
  NOTIFICATION_KINDS,
  NotificationFormat,
  NotificationKind,
  refusedTarget,
  TargetAllowList,
} from '@app/domain';
import { NotFoundError, ValidationError } from '../errors';
import { audit } from '../db/audit-log';
import { sqlOfDataSource } from '../db/sql';
import { withTransaction } from '../db/transaction';
import { DeliveryRow, NotificationRepository, SubscriptionRow } from './notification.repository';

export interface CreateSubscriptionInput {
  name: string;
  url: string;
  format?: NotificationFormat;
  /** The kinds it receives; absent or empty: every kind. */
  kinds?: NotificationKind[];
}

export interface Subscription {
  id: string;
  name: string;
  url: string;
  format: NotificationFormat;
  kinds: NotificationKind[] | null;
  createdBy: string;
  createdAt: Date;
  deliveries: DeliveryCounts;
}

export interface DeliveryCounts {
  pending: number;
  delivered: number;
  failing: number;
  /** Given up past NOTIFY_GIVE_UP_AFTER_S (or NOTIFY_MAX_ATTEMPTS): ops may redeliver them. */
  failed: number;
  /** The latest given up: when, and the receiver's last error. */
  lastFailure: { at: Date; error: string | null } | null;
}

export interface Delivery {
  id: string;
  eventId: string;
  kind: NotificationKind;
  waveId: string | null;
  eventAt: Date;
  state: DeliveryRow['state'];
  attempts: number;
  nextAttemptAt: Date | null;
  lastAttemptAt: Date | null;
  lastStatus: number | null;
  lastError: string | null;
  deliveredAt: Date | null;
  failedAt: Date | null;
}

export const DELIVERY_PAGE = { default: 50, max: 500 } as const;
export const DELIVERY_STATES = ['pending', 'delivered', 'dropped', 'failed'] as const;

/**
 * Ops' subscriptions to the service's events (issue 20): create (the secret shown once), list, get, delete, their
 * deliveries, and sending failed ones again.
 */
export class NotificationService {
  private readonly repo = new NotificationRepository();
  private readonly sql;

  constructor(
    private readonly dataSource: DataSource,
    /** NOTIFY_ALLOWED_HOSTS: the receivers this deployment names (unset: any host but those always refused). */
    private readonly allowedTargets?: TargetAllowList,
  ) {
    this.sql = sqlOfDataSource(dataSource);
  }

  async create(input: CreateSubscriptionInput, actor: string): Promise<Subscription & { secret: string }> {
    const errors = checkSubscription(input, this.allowedTargets);
    if (errors.length) throw new ValidationError(errors);
    // 32 random bytes: the HMAC key of the signature (docs/notifications.md); stored, since the worker signs with it.
    const secret = `whsec_${randomBytes(32).toString('base64url')}`;
    // Audited with it (never the secret): a subscription decides where the service posts what it knows.
    const row = await withTransaction(this.dataSource, async ({ sql }) => {
      const inserted = await this.repo.insertSubscription(sql, {
        name: input.name,
        url: input.url,
        format: input.format ?? 'json',
        kinds: input.kinds?.length ? [...new Set(input.kinds)] : null,
        secret,
        created_by: actor,
      });
      const { id, name, url, format, kinds } = inserted;
      await audit(sql, { actor, action: 'subscription.created', detail: { id, name, url, format, kinds } });
      return inserted;
    });
    return { ...view(row), secret };
  }

  async list(): Promise<Subscription[]> {
    const rows = await this.repo.listSubscriptions(this.sql);
    const counts = await this.countsOf(rows.map((r) => r.id));
    return rows.map((r) => view(r, counts.get(r.id)));
  }

  async get(id: string): Promise<Subscription> {
    const row = await this.repo.findSubscription(this.sql, id);
    if (!row) throw new NotFoundError('subscription', id);
    return view(row, (await this.countsOf([id])).get(id));
  }

  /** Ends a subscription: what it had not received yet is dropped (state `dropped`), nothing more is queued for it. */
  async delete(id: string, actor: string): Promise<void> {
    const deleted = await withTransaction(this.dataSource, async ({ sql }) => {
      const ended = await this.repo.deleteSubscription(sql, id);
      if (ended) await audit(sql, { actor, action: 'subscription.deleted', detail: { id } });
      return ended;
    });
    if (!deleted) throw new NotFoundError('subscription', id);
  }

  async deliveries(
    id: string,
    q: { state?: DeliveryRow['state']; before?: string; limit?: number },
  ): Promise<{ items: Delivery[]; nextBefore: string | null }> {
    await this.get(id);
    const limit = Math.min(Math.max(q.limit ?? DELIVERY_PAGE.default, 1), DELIVERY_PAGE.max);
    const rows = await this.repo.deliveries(this.sql, id, { ...q, limit });
    return {
      items: rows.map((r) => ({
        id: r.id,
        eventId: r.event_id,
        kind: r.kind,
        waveId: r.wave_id,
        eventAt: r.event_at,
        state: r.state,
        attempts: r.attempts,
        nextAttemptAt: r.state === 'pending' ? r.next_attempt_at : null,
        lastAttemptAt: r.last_attempt_at,
        lastStatus: r.last_status,
        lastError: r.last_error,
        deliveredAt: r.delivered_at,
        failedAt: r.failed_at,
      })),
      nextBefore: rows.length === limit ? rows[rows.length - 1].id : null,
    };
  }

  /**
   * Sends failed deliveries again (one, or every failed one of the subscription): pending from now, with a new bound.
   * Audited (`subscription.redelivered`). A delivery id that is not a failed delivery of this subscription is a 404.
   */
  async redeliver(id: string, deliveryId: string | null, actor: string): Promise<{ redelivered: string[] }> {
    const redelivered = await withTransaction(this.dataSource, async ({ sql }) => {
      if (!(await this.repo.findSubscription(sql, id))) throw new NotFoundError('subscription', id);
      const ids = await this.repo.redeliver(sql, id, deliveryId);
      if (deliveryId && !ids.length) throw new NotFoundError('delivery', deliveryId);
      if (ids.length) {
        await audit(sql, { actor, action: 'subscription.redelivered', detail: { id, deliveries: ids } });
      }
      return ids;
    });
    return { redelivered };
  }

  /** Pending and failed deliveries per live subscription, for the metrics. */
  async pending(): Promise<{ subscriptionId: string; name: string; pending: number; failed: number }[]> {
    const rows = await this.repo.pending(this.sql);
    return rows.map((r) => ({
      subscriptionId: r.subscription_id,
      name: r.name,
      pending: Number(r.pending),
      failed: Number(r.failed),
    }));
  }

  private async countsOf(ids: string[]): Promise<Map<string, DeliveryCounts>> {
    if (!ids.length) return new Map();
    const rows = await this.repo.counts(this.sql, ids);
    return new Map(
      rows.map((r) => [
        r.subscription_id,
        {
          pending: Number(r.pending),
          delivered: Number(r.delivered),
          failing: Number(r.failing),
          failed: Number(r.failed),
          lastFailure: r.last_failed_at ? { at: r.last_failed_at, error: r.last_failure_error } : null,
        },
      ]),
    );
  }
}

const NO_DELIVERIES: DeliveryCounts = { pending: 0, delivered: 0, failing: 0, failed: 0, lastFailure: null };

function view(row: SubscriptionRow, counts = NO_DELIVERIES): Subscription {
  return {
    id: row.id,
    name: row.name,
    url: row.url,
    format: row.format,
    kinds: row.kinds,
    createdBy: row.created_by,
    createdAt: row.created_at,
    deliveries: counts,
  };
}

/** The rules the DTO cannot state alone (the service is called by the harness and the demo too). */
function checkSubscription(input: CreateSubscriptionInput, allowedTargets?: TargetAllowList): FieldError[] {
  const errors: FieldError[] = [];
  if (!input.name?.trim()) errors.push({ field: 'name', message: 'name must not be empty' });
  if (!['http:', 'https:'].includes(urlProtocol(input.url))) {
    errors.push({ field: 'url', message: 'url must be an http(s) URL' });
  } else if (hasCredentials(input.url)) {
    // The URL is shown to every ops key and written to the audit: a password in it would be too. Receivers check
    // the signature instead (docs/notifications.md, "Verifying a delivery").
    errors.push({
      field: 'url',
      message: 'url must not carry credentials (user:password@): receivers verify the signature',
    });
  } else {
    const refused = refusedTarget(input.url, allowedTargets);
    if (refused) errors.push({ field: 'url', message: `url must lead to a receiver: ${refused}` });
  }
  if (input.format !== undefined && !NOTIFICATION_FORMATS.includes(input.format)) {
    errors.push({ field: 'format', message: `format must be one of ${NOTIFICATION_FORMATS.join(', ')}` });
  }
  for (const kind of input.kinds ?? []) {
    if (!NOTIFICATION_KINDS.includes(kind)) {
      errors.push({ field: 'kinds', message: `kinds: unknown kind ${String(kind)}` });
    }
  }
  return errors;
}

function hasCredentials(url: string): boolean {
  const { username, password } = new URL(url);
  return username !== '' || password !== '';
}

function urlProtocol(url: string): string {
  try {
    return new URL(url).protocol;
  } catch {
    return '';
  }
}
