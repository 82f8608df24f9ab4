import { Gauge, Registry } from 'prom-client';
import { NotificationService } from '@app/core';
import { hideAddresses } from '@app/domain';

/**
 * `reopen_notifications_pending{subscription_id,subscription}` (issue 20): deliveries not yet acknowledged, per live
 * subscription, and `reopen_notifications_failed{…}`: those given up, read from PostgreSQL at each scrape. Delivery attempts by outcome are each worker's
 * (`reopen_notification_deliveries_total`, its /metrics).
 */
export function registerNotificationMetrics(registry: Registry, notifications: NotificationService): void {
  new Gauge({
    name: 'reopen_notifications_pending',
    help: 'Notifications not yet acknowledged by their receiver, per subscription',
    labelNames: ['subscription_id', 'subscription'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const s of await notifications.pending()) {
        this.set({ subscription_id: s.subscriptionId, subscription: hideAddresses(s.name) }, s.pending);
      }
    },
  });
  new Gauge({
    name: 'reopen_notifications_failed',
    help: 'Notifications given up (NOTIFY_GIVE_UP_AFTER_S, NOTIFY_MAX_ATTEMPTS) and not redelivered, per subscription',
    labelNames: ['subscription_id', 'subscription'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const s of await notifications.pending()) {
        this.set({ subscription_id: s.subscriptionId, subscription: hideAddresses(s.name) }, s.failed);
      }
    },
  });
}
