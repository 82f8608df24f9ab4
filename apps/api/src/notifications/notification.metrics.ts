import { Gauge, Registry } from 'prom-client';
import { NotificationService } from '@app/core';
import { hideAddresses } from '@app/domain';

/** Each gauge: its name, its help, and the count of NotificationService.pending() it reports. */
const GAUGES = [
  ['reopen_notifications_pending', 'Notifications not yet acknowledged by their receiver, per subscription', 'pending'],
  [
    'reopen_notifications_failed',
    'Notifications given up (NOTIFY_GIVE_UP_AFTER_S, NOTIFY_MAX_ATTEMPTS) and not redelivered, per subscription',
    'failed',
  ],
] as const;

/**
 * `reopen_notifications_pending{subscription_id,subscription}` (issue 20): deliveries not yet acknowledged, per live
 * subscription, and `reopen_notifications_failed{…}`: those given up, read from PostgreSQL at each scrape. Delivery
 * attempts by outcome are each worker's (`reopen_notification_deliveries_total`, its /metrics).
 */
export function registerNotificationMetrics(registry: Registry, notifications: NotificationService): void {
  for (const [name, help, count] of GAUGES) {
    new Gauge({
      name,
      help,
      labelNames: ['subscription_id', 'subscription'],
      registers: [registry],
      async collect() {
        this.reset();
        for (const s of await notifications.pending()) {
          this.set({ subscription_id: s.subscriptionId, subscription: hideAddresses(s.name) }, s[count]);
        }
      },
    });
  }
}
