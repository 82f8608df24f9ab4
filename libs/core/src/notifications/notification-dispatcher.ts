import { randomUUID } from 'node:crypto';
import { lookup } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { Agent, request } from 'undici';
import { DataSource } from 'typeorm';
import {
  afterFailedAttempt,
  BackoffSettings,
  GiveUpBound,
  isAcknowledged,
  notificationBody,
  NotificationEvent,
  refusedTarget,
  refusedTargetAddress,
  retryDelayMs,
  SIGNATURE_HEADERS,
  signatureOf,
  TargetAllowList,
} from '@app/domain';
import { parseRetryAfter } from '@app/mailstore';
import { withTransaction } from '../db/transaction';
import { EngineMetrics, NO_ENGINE_METRICS } from '../engine/engine-metrics';
import { ClaimedDelivery, DeliveryOutcome, NotificationRepository } from './notification.repository';

export interface DispatcherSettings {
  /** The status page's base URL, for the links in the messages. */
  publicUrl: string;
  /** Deliveries claimed per statement (and posted at once, each to its own receiver). */
  batchSize: number;
  /** One POST's whole exchange; past it the attempt failed. */
  timeoutMs: number;
  /** A claim's lease: longer than timeoutMs, so a live worker always settles before another may take it over. */
  leaseMs: number;
  backoff: BackoffSettings;
  /** When a delivery is given up (ends `failed`): NOTIFY_GIVE_UP_AFTER_S, NOTIFY_MAX_ATTEMPTS. */
  giveUp: GiveUpBound;
  /** NOTIFY_ALLOWED_HOSTS: the receivers this deployment names (unset: any host but those always refused). */
  allowedTargets?: TargetAllowList;
}

/**
 * The worker's delivery of the outbox (issue 20): claim a batch of due heads (one statement, leases), POST each in its
 * subscription's format, signed, then settle the batch (one statement). Exactly once per subscription as far as the
 * service can know: a delivery is leased by one worker at a time and, once acknowledged (a 2xx), is never claimed
 * again; a worker killed mid-batch leaves leases that expire, and its deliveries are sent again (the receiver keeps
 * the event id to drop a second copy of one whose acknowledgement was lost with the worker). A delivery still failing
 * when its bound falls (`giveUp`) ends `failed`, with its last status and error, and its wave's next events go on.
 */
export class NotificationDispatcher {
  private readonly repo = new NotificationRepository();
  // undici's pooled client (the mailstore client's library): keep-alive to each receiver, bounded connections.
  // Each address a receiver's name resolves to is checked as it connects (refusedTargetAddress).
  private readonly agent = new Agent({ connections: 16, keepAliveTimeout: 10_000, connect: { lookup: guardedLookup } });

  constructor(
    private readonly dataSource: DataSource,
    private readonly settings: DispatcherSettings,
    private readonly metrics: Pick<EngineMetrics, 'notificationsAttempted'> = NO_ENGINE_METRICS,
  ) {}

  /** Delivers batches until none is due (or `signal` aborts); returns how many were acknowledged. */
  async drain(signal?: AbortSignal): Promise<number> {
    let acknowledged = 0;
    while (!signal?.aborted) {
      const batch = await this.deliverBatch();
      acknowledged += batch.acknowledged;
      if (batch.claimed < this.settings.batchSize && batch.acknowledged === 0) break;
    }
    return acknowledged;
  }

  /** One claim, its posts in parallel, one settle. */
  async deliverBatch(): Promise<{ claimed: number; acknowledged: number }> {
    const owner = randomUUID();
    // Each a one-statement transaction (an UPDATE … RETURNING on the pool gives TypeORM's [rows, count], not rows).
    const claimed = await withTransaction(this.dataSource, ({ sql }) =>
      this.repo.claim(sql, owner, this.settings.leaseMs, this.settings.batchSize, this.settings.giveUp.afterMs),
    );
    if (!claimed.length) return { claimed: 0, acknowledged: 0 };
    const outcomes = await Promise.all(claimed.map((d) => this.post(d)));
    const settled = new Set(
      await withTransaction(this.dataSource, ({ sql }) => this.repo.settle(sql, owner, outcomes)),
    );
    const lost = outcomes.filter((o) => !settled.has(o.id)).length;
    if (lost) this.metrics.notificationsAttempted('lost', lost);
    const gaveUp = outcomes.filter((o) => o.giveUp && settled.has(o.id)).length;
    if (gaveUp) this.metrics.notificationsAttempted('gave_up', gaveUp);
    return {
      claimed: claimed.length,
      acknowledged: outcomes.filter((o) => o.acknowledged && settled.has(o.id)).length,
    };
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  private async post(d: ClaimedDelivery): Promise<DeliveryOutcome> {
    const event: NotificationEvent = {
      id: d.event_id,
      kind: d.kind,
      at: new Date(d.at),
      actor: d.actor,
      waveId: d.wave_id,
      waveName: d.wave_name,
      login: d.login,
      reason: d.reason,
      before: d.before,
      after: d.after,
      detail: d.detail,
    };
    const body = JSON.stringify(notificationBody(d.format, event, this.settings.publicUrl));
    const timestamp = Math.floor(Date.now() / 1000);
    const failed = (status: number | null, error: string, retryAfterMs?: number): DeliveryOutcome => {
      const delayMs = retryDelayMs(d.attempts, this.settings.backoff, retryAfterMs);
      const next = afterFailedAttempt(d.attempts, d.give_up_in_ms, delayMs, this.settings.giveUp);
      return {
        id: d.id,
        acknowledged: false,
        giveUp: next.giveUp,
        status,
        error: error.slice(0, 500),
        delayMs: next.giveUp ? 0 : next.delayMs,
      };
    };
    const refused = refusedTarget(d.url, this.settings.allowedTargets);
    if (refused) {
      // Never sent, and never will be (a subscription made before the rule, or before NOTIFY_ALLOWED_HOSTS left its
      // host out): given up at once, with the reason.
      this.metrics.notificationsAttempted('unreachable', 1);
      return {
        id: d.id,
        acknowledged: false,
        giveUp: true,
        status: null,
        error: `refused target: ${refused}`,
        delayMs: 0,
      };
    }
    try {
      const res = await request(d.url, {
        method: 'POST',
        dispatcher: this.agent,
        body,
        headers: {
          'content-type': 'application/json',
          'user-agent': 'reopen-access-notifications/1',
          [SIGNATURE_HEADERS.eventId]: d.event_id,
          [SIGNATURE_HEADERS.timestamp]: String(timestamp),
          [SIGNATURE_HEADERS.signature]: signatureOf(d.secret, timestamp, body),
        },
        headersTimeout: this.settings.timeoutMs,
        bodyTimeout: this.settings.timeoutMs,
        signal: AbortSignal.timeout(this.settings.timeoutMs),
      });
      await res.body.dump();
      if (isAcknowledged(res.statusCode)) {
        this.metrics.notificationsAttempted('delivered', 1);
        return { id: d.id, acknowledged: true, giveUp: false, status: res.statusCode, error: null, delayMs: 0 };
      }
      if (res.statusCode === 429) {
        this.metrics.notificationsAttempted('rate_limited', 1);
        return failed(429, 'rate limited', parseRetryAfter(res.headers['retry-after']));
      }
      this.metrics.notificationsAttempted('failed', 1);
      return failed(res.statusCode, `HTTP ${res.statusCode}`);
    } catch (err) {
      this.metrics.notificationsAttempted('unreachable', 1);
      return failed(null, errorText(err));
    }
  }
}

/**
 * dns.lookup for the delivery agent's connections, refusing a name that resolves to an address no receiver lives at
 * (the metadata services: refusedTargetAddress); the check is on the addresses the socket will use, so a name that
 * changes its address after the subscription was made is caught too.
 */
const guardedLookup: LookupFunction = (hostname, options, callback) => {
  lookup(hostname, options, (err, address, family) => {
    if (err) {
      callback(err, address, family);
      return;
    }
    const all = Array.isArray(address) ? address : [{ address, family: family ?? 0 }];
    const refused = all.map((a) => refusedTargetAddress(a.address)).find((r) => r !== null);
    if (refused) {
      const error = Object.assign(new Error(`refused target: ${hostname} resolves to ${refused}`), {
        code: 'ETARGETREFUSED',
      });
      callback(error, address, family);
      return;
    }
    callback(null, address, family);
  });
};

function errorText(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code ?? (err.cause as { code?: unknown } | undefined)?.code;
    return typeof code === 'string' ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}
