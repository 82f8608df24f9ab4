import { NotificationFormat, NotificationKind } from '@app/domain';
import { Sql } from '../db/sql';

/** A subscription as stored (the secret stays here: the API shows it once, at creation). */
export interface SubscriptionRow {
  id: string;
  name: string;
  url: string;
  format: NotificationFormat;
  kinds: NotificationKind[] | null;
  secret: string;
  created_by: string;
  created_at: Date;
}

/** A subscription's deliveries as counts, for the API and the metrics. */
export interface SubscriptionCounts {
  subscription_id: string;
  pending: string;
  delivered: string;
  failing: string;
}

export interface DeliveryRow {
  id: string;
  event_id: string;
  kind: NotificationKind;
  wave_id: string | null;
  event_at: Date;
  state: 'pending' | 'delivered' | 'dropped';
  attempts: number;
  next_attempt_at: Date;
  last_attempt_at: Date | null;
  last_status: number | null;
  last_error: string | null;
  delivered_at: Date | null;
}

/** A delivery leased by a worker, with everything it needs to post it. */
export interface ClaimedDelivery {
  id: string;
  attempts: number;
  url: string;
  format: NotificationFormat;
  secret: string;
  event_id: string;
  kind: NotificationKind;
  at: Date;
  actor: string;
  wave_id: string | null;
  wave_name: string | null;
  login: string | null;
  reason: string | null;
  before: unknown;
  after: unknown;
  detail: unknown;
}

/** How one attempt ended: acknowledged, or to retry after `delayMs`. */
export interface DeliveryOutcome {
  id: string;
  acknowledged: boolean;
  status: number | null;
  error: string | null;
  delayMs: number;
}

const SUBSCRIPTION_COLUMNS = `id, name, url, format, kinds, secret, created_by, created_at`;

/**
 * The statements of notifications (issue 20). Events and their deliveries are written by the outbox trigger on
 * audit_log (migration 1764420000000), never here; this holds the subscriptions, the claim and the settle.
 */
export class NotificationRepository {
  async insertSubscription(
    sql: Sql,
    s: Pick<SubscriptionRow, 'name' | 'url' | 'format' | 'kinds' | 'secret' | 'created_by'>,
  ): Promise<SubscriptionRow> {
    const [row] = await sql<SubscriptionRow>(
      `INSERT INTO notification_subscriptions (name, url, format, kinds, secret, created_by)
       VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${SUBSCRIPTION_COLUMNS}`,
      [s.name, s.url, s.format, s.kinds, s.secret, s.created_by],
    );
    return row;
  }

  /** Live subscriptions, oldest first. On the pool. */
  async listSubscriptions(sql: Sql): Promise<SubscriptionRow[]> {
    return sql<SubscriptionRow>(
      `SELECT ${SUBSCRIPTION_COLUMNS} FROM notification_subscriptions WHERE deleted_at IS NULL ORDER BY created_at, id`,
    );
  }

  async findSubscription(sql: Sql, id: string): Promise<SubscriptionRow | undefined> {
    const [row] = await sql<SubscriptionRow>(
      `SELECT ${SUBSCRIPTION_COLUMNS} FROM notification_subscriptions WHERE id = $1 AND deleted_at IS NULL`,
      [id],
    );
    return row;
  }

  /** Ends a subscription and drops what it had not received yet; false when there was no live one. */
  async deleteSubscription(sql: Sql, id: string): Promise<boolean> {
    const ended = await sql(
      `UPDATE notification_subscriptions SET deleted_at = now() WHERE id = $1 AND deleted_at IS NULL RETURNING id`,
      [id],
    );
    if (!ended.length) return false;
    await sql(
      `UPDATE notification_deliveries SET state = 'dropped', lease_owner = NULL, lease_until = NULL
        WHERE subscription_id = $1 AND state = 'pending'`,
      [id],
    );
    return true;
  }

  /** Pending, delivered and failing (pending after at least one failed attempt) deliveries per live subscription. */
  async counts(sql: Sql, ids?: readonly string[]): Promise<SubscriptionCounts[]> {
    return sql<SubscriptionCounts>(
      `SELECT s.id AS subscription_id,
              count(*) FILTER (WHERE d.state = 'pending') AS pending,
              count(*) FILTER (WHERE d.state = 'delivered') AS delivered,
              count(*) FILTER (WHERE d.state = 'pending' AND d.attempts > 0 AND d.lease_owner IS NULL) AS failing
         FROM notification_subscriptions s LEFT JOIN notification_deliveries d ON d.subscription_id = s.id
        WHERE s.deleted_at IS NULL AND ($1::uuid[] IS NULL OR s.id = ANY ($1))
        GROUP BY s.id`,
      [ids ?? null],
    );
  }

  /** A subscription's deliveries, newest first, keyset-paged by id (`before`). */
  async deliveries(
    sql: Sql,
    subscriptionId: string,
    q: { state?: string; before?: string; limit: number },
  ): Promise<DeliveryRow[]> {
    return sql<DeliveryRow>(
      `SELECT d.id::text AS id, e.event_id::text AS event_id, e.kind, e.wave_id, e.at AS event_at, d.state, d.attempts,
              d.next_attempt_at, d.last_attempt_at, d.last_status, d.last_error, d.delivered_at
         FROM notification_deliveries d JOIN notification_events e ON e.id = d.event_id
        WHERE d.subscription_id = $1 AND ($2::text IS NULL OR d.state = $2) AND ($3::bigint IS NULL OR d.id < $3)
        ORDER BY d.id DESC LIMIT $4`,
      [subscriptionId, q.state ?? null, q.before ?? null, q.limit],
    );
  }

  /**
   * Leases up to `limit` deliveries in one statement: the head (oldest pending) of each (subscription, wave) that is
   * due and not leased by a live lease, skipping rows another worker is claiming (SKIP LOCKED). Only heads: a later
   * event of a wave waits for the earlier one to be acknowledged, so a receiver gets a wave's events in order, and a
   * failing head holds back its own stream only. `= ANY(ARRAY(…))` as limits.md measured.
   */
  async claim(sql: Sql, owner: string, leaseMs: number, limit: number): Promise<ClaimedDelivery[]> {
    return sql<ClaimedDelivery>(
      `UPDATE notification_deliveries d
          SET lease_owner = $1, lease_until = now() + $2 * interval '1 millisecond', attempts = d.attempts + 1,
              last_attempt_at = now()
         FROM notification_events e, notification_subscriptions s
        WHERE d.id = ANY (ARRAY(
                SELECT h.id FROM notification_deliveries h
                 WHERE h.state = 'pending' AND h.next_attempt_at <= now()
                   AND (h.lease_until IS NULL OR h.lease_until < now())
                   AND NOT EXISTS (SELECT 1 FROM notification_deliveries p
                                    WHERE p.subscription_id = h.subscription_id AND p.stream = h.stream
                                      AND p.state = 'pending' AND p.id < h.id)
                 ORDER BY h.id LIMIT $3
                   FOR UPDATE SKIP LOCKED))
          AND e.id = d.event_id AND s.id = d.subscription_id AND s.deleted_at IS NULL
      RETURNING d.id::text AS id, d.attempts, s.url, s.format, s.secret, e.event_id::text AS event_id, e.kind, e.at,
                e.actor, e.wave_id, (SELECT w.name FROM waves w WHERE w.id = e.wave_id) AS wave_name, e.login,
                e.reason, e.before, e.after, e.detail`,
      [owner, leaseMs, limit],
    );
  }

  /**
   * Records a batch's attempts in one statement: acknowledged ones are delivered (never claimed again), the others
   * wait for their next attempt. Only under the claim's own lease: a delivery another worker took over after the lease
   * expired is that worker's to settle. Returns the ids settled.
   */
  async settle(sql: Sql, owner: string, outcomes: readonly DeliveryOutcome[]): Promise<string[]> {
    if (!outcomes.length) return [];
    const rows = await sql<{ id: string }>(
      `UPDATE notification_deliveries d
          SET state = CASE WHEN o.ok THEN 'delivered' ELSE 'pending' END,
              delivered_at = CASE WHEN o.ok THEN now() END,
              next_attempt_at = CASE WHEN o.ok THEN d.next_attempt_at
                                     ELSE now() + o.delay_ms * interval '1 millisecond' END,
              lease_owner = NULL, lease_until = NULL, last_status = o.status, last_error = o.error
         FROM unnest($2::bigint[], $3::boolean[], $4::int[], $5::text[], $6::bigint[]) AS o(id, ok, status, error, delay_ms)
        WHERE d.id = o.id AND d.lease_owner = $1 AND d.state = 'pending'
      RETURNING d.id::text AS id`,
      [
        owner,
        outcomes.map((o) => o.id),
        outcomes.map((o) => o.acknowledged),
        outcomes.map((o) => o.status),
        outcomes.map((o) => o.error),
        outcomes.map((o) => Math.round(o.delayMs)),
      ],
    );
    return rows.map((r) => r.id);
  }

  /** Pending deliveries per live subscription (the metrics). On the pool. */
  async pending(sql: Sql): Promise<{ subscription_id: string; name: string; pending: string }[]> {
    return sql(
      `SELECT s.id AS subscription_id, s.name, count(d.id) AS pending
         FROM notification_subscriptions s
         LEFT JOIN notification_deliveries d ON d.subscription_id = s.id AND d.state = 'pending'
        WHERE s.deleted_at IS NULL GROUP BY s.id, s.name`,
    );
  }
}
