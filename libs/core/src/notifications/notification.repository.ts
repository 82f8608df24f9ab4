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
  failed: string;
  /** The last error of its most recently failed delivery (given up), or null. */
  last_failure_error: string | null;
  last_failed_at: Date | null;
}

export interface DeliveryRow {
  id: string;
  event_id: string;
  kind: NotificationKind;
  wave_id: string | null;
  event_at: Date;
  state: 'pending' | 'delivered' | 'dropped' | 'failed';
  attempts: number;
  next_attempt_at: Date;
  last_attempt_at: Date | null;
  last_status: number | null;
  last_error: string | null;
  delivered_at: Date | null;
  failed_at: Date | null;
}

/** A delivery leased by a worker, with everything it needs to post it. */
export interface ClaimedDelivery {
  id: string;
  attempts: number;
  /** What is left of its give-up bound at the claim (negative: past it), on PostgreSQL's clock. */
  give_up_in_ms: number;
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

/** How one attempt ended: acknowledged, given up (`failed`), or to retry after `delayMs`. */
export interface DeliveryOutcome {
  id: string;
  acknowledged: boolean;
  giveUp: boolean;
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

  /**
   * Pending, delivered, failing (pending after at least one failed attempt) and failed (given up) deliveries per live
   * subscription, with the last error of the latest given up.
   */
  async counts(sql: Sql, ids?: readonly string[]): Promise<SubscriptionCounts[]> {
    return sql<SubscriptionCounts>(
      `SELECT s.id AS subscription_id,
              count(*) FILTER (WHERE d.state = 'pending') AS pending,
              count(*) FILTER (WHERE d.state = 'delivered') AS delivered,
              count(*) FILTER (WHERE d.state = 'pending' AND d.attempts > 0 AND d.lease_owner IS NULL) AS failing,
              count(*) FILTER (WHERE d.state = 'failed') AS failed,
              (array_agg(d.last_error ORDER BY d.failed_at DESC, d.id DESC) FILTER (WHERE d.state = 'failed'))[1]
                AS last_failure_error,
              max(d.failed_at) AS last_failed_at
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
              d.next_attempt_at, d.last_attempt_at, d.last_status, d.last_error, d.delivered_at,
              d.failed_at
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
   * failing head holds back its own stream only, until it is given up (`failed` is no longer a head).
   * `= ANY(ARRAY(…))` as limits.md measured. `giveUpAfterMs`: the bound, from the event (or its redelivery).
   */
  async claim(
    sql: Sql,
    owner: string,
    leaseMs: number,
    limit: number,
    giveUpAfterMs: number,
  ): Promise<ClaimedDelivery[]> {
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
      RETURNING d.id::text AS id, d.attempts,
                (extract(epoch FROM coalesce(d.redelivered_at, e.at) + $4 * interval '1 millisecond' - now())
                  * 1000)::float8 AS give_up_in_ms,
                s.url, s.format, s.secret, e.event_id::text AS event_id, e.kind, e.at,
                e.actor, e.wave_id, (SELECT w.name FROM waves w WHERE w.id = e.wave_id) AS wave_name, e.login,
                e.reason, e.before, e.after, e.detail`,
      [owner, leaseMs, limit, giveUpAfterMs],
    );
  }

  /**
   * Records a batch's attempts in one statement: acknowledged ones are delivered (never claimed again), given up ones
   * are failed (no longer a head: the next event of their wave goes on), the others wait for their next attempt. Only under the claim's own lease: a delivery another worker took over after the lease
   * expired is that worker's to settle. Returns the ids settled.
   */
  async settle(sql: Sql, owner: string, outcomes: readonly DeliveryOutcome[]): Promise<string[]> {
    if (!outcomes.length) return [];
    const rows = await sql<{ id: string }>(
      `UPDATE notification_deliveries d
          SET state = CASE WHEN o.ok THEN 'delivered' WHEN o.give_up THEN 'failed' ELSE 'pending' END,
              delivered_at = CASE WHEN o.ok THEN now() END,
              failed_at = CASE WHEN o.give_up AND NOT o.ok THEN now() END,
              next_attempt_at = CASE WHEN o.ok THEN d.next_attempt_at
                                     ELSE now() + o.delay_ms * interval '1 millisecond' END,
              lease_owner = NULL, lease_until = NULL, last_status = o.status, last_error = o.error
         FROM unnest($2::bigint[], $3::boolean[], $4::int[], $5::text[], $6::bigint[], $7::boolean[])
                AS o(id, ok, status, error, delay_ms, give_up)
        WHERE d.id = o.id AND d.lease_owner = $1 AND d.state = 'pending'
      RETURNING d.id::text AS id`,
      [
        owner,
        outcomes.map((o) => o.id),
        outcomes.map((o) => o.acknowledged),
        outcomes.map((o) => o.status),
        outcomes.map((o) => o.error),
        outcomes.map((o) => Math.round(o.delayMs)),
        outcomes.map((o) => o.giveUp),
      ],
    );
    return rows.map((r) => r.id);
  }

  /** Pending and failed (given up) deliveries per live subscription (the metrics). On the pool. */
  async pending(sql: Sql): Promise<{ subscription_id: string; name: string; pending: string; failed: string }[]> {
    return sql(
      `SELECT s.id AS subscription_id, s.name, count(d.id) FILTER (WHERE d.state = 'pending') AS pending,
              count(d.id) FILTER (WHERE d.state = 'failed') AS failed
         FROM notification_subscriptions s
         LEFT JOIN notification_deliveries d ON d.subscription_id = s.id AND d.state IN ('pending', 'failed')
        WHERE s.deleted_at IS NULL GROUP BY s.id, s.name`,
    );
  }

  /**
   * Ops send failed deliveries again (`deliveryId`, or every failed one of the subscription): pending now, their
   * bound counted again from now. A redelivered event is older than some its wave's receiver already has: it becomes
   * the head of its stream again, so the wave's later pending events wait for it. Returns the ids. In a transaction.
   */
  async redeliver(sql: Sql, subscriptionId: string, deliveryId: string | null): Promise<string[]> {
    const rows = await sql<{ id: string }>(
      `UPDATE notification_deliveries
          SET state = 'pending', attempts = 0, next_attempt_at = now(), redelivered_at = now(), failed_at = NULL
        WHERE subscription_id = $1 AND state = 'failed' AND ($2::bigint IS NULL OR id = $2)
      RETURNING id::text AS id`,
      [subscriptionId, deliveryId],
    );
    return rows.map((r) => r.id);
  }
}
