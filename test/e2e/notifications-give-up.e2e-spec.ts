import { JsonNotification } from '@app/domain';
import { NotificationReceiver, pollUntil } from '@app/testing';
import { ApiHarness, startApiHarness } from './api-harness';

interface Counts {
  pending: number;
  delivered: number;
  failed: number;
  lastFailure: { at: string; error: string | null } | null;
}

/**
 * A receiver gone for good, through the HTTP API (issue 20): the worker gives a delivery up after NOTIFY_MAX_ATTEMPTS,
 * the wave's next event still comes, ops see the failure (the subscription, its deliveries, the failed gauge) and send
 * it again once the receiver is fixed; a bad delivery id is a 400 naming it, an unknown one a 404.
 */
describe('notifications given up, over the API (real PostgreSQL, Redis, worker, receiver)', () => {
  let api: ApiHarness;
  let receiver: NotificationReceiver;

  beforeAll(async () => {
    receiver = await NotificationReceiver.start();
    api = await startApiHarness('notify-give-up', {
      accounts: 100,
      worker: true,
      engineEnv: { NOTIFY_POLL_MS: '100', NOTIFY_BACKOFF_BASE_MS: '100', NOTIFY_MAX_ATTEMPTS: '2' },
    });
    await api.h.importPopulation({ count: 100, seed: 12, leakedShare: 0 });
  }, 180_000); // an API and a worker process to start: on a loaded machine more than the default minute
  afterAll(async () => {
    await api?.close();
    await receiver?.close();
  });

  it('gives up after NOTIFY_MAX_ATTEMPTS, lets the next event through, shows it, and redelivers it on demand', async () => {
    const sub = await api.call('POST', '/subscriptions', { body: { name: 'gone', url: `${receiver.url}/gone` } });
    expect(sub.status).toBe(201);
    const subId = sub.body.id as string;
    let gone = true;
    receiver.answer(() => (gone ? { kind: 'status', status: 410 } : { kind: 'ok' }));
    const created = await api.call('POST', '/waves', {
      body: { name: 'gone', selector: { type: 'remaining' }, protocols: ['imap'], ratePerSecond: 1 },
    });
    const waveId = created.body.id as string;
    expect((await api.call('POST', `/waves/${waveId}/start`)).status).toBe(200);

    const counts = async () => (await api.call<{ deliveries: Counts }>('GET', `/subscriptions/${subId}`)).body;
    const given = await pollUntil(async () => ((await counts()).deliveries.failed === 1 ? counts() : undefined), {
      timeoutMs: 30_000,
      description: 'the start given up',
    });
    expect(given.deliveries.lastFailure).toMatchObject({ error: 'HTTP 410' });
    const failed = await api.call<{ items: { id: string; kind: string; attempts: number; lastStatus: number }[] }>(
      'GET',
      `/subscriptions/${subId}/deliveries?state=failed`,
    );
    expect(failed.body.items).toMatchObject([{ kind: 'wave.started', attempts: 2, lastStatus: 410 }]);
    const metrics = await api.call('GET', '/metrics', { key: 'viewer' });
    expect(metrics.text).toMatch(
      new RegExp(`^reopen_notifications_failed\\{subscription_id="${subId}",subscription="gone"\\} 1$`, 'm'),
    );

    // The receiver is back: the wave's next event comes, then the failed one when ops send it again.
    gone = false;
    expect((await api.call('POST', `/waves/${waveId}/cancel`)).status).toBe(200);
    await pollUntil(async () => (await counts()).deliveries.delivered === 1, { description: 'the cancel delivered' });
    const bad = await api.call('POST', `/subscriptions/${subId}/deliveries/x1/redeliver`);
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain('deliveryId');
    expect((await api.call('POST', `/subscriptions/${subId}/deliveries/999999999/redeliver`)).status).toBe(404);
    expect((await api.call('POST', `/subscriptions/${subId}/deliveries/redeliver`, { key: 'viewer' })).status).toBe(
      403,
    );
    const again = await api.call('POST', `/subscriptions/${subId}/deliveries/redeliver`);
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ redelivered: [failed.body.items[0].id] });
    await pollUntil(async () => (await counts()).deliveries.delivered === 2, { description: 'redelivered' });
    const kinds = receiver.acknowledged('/gone').map((r) => (JSON.parse(r.body) as JsonNotification).kind);
    expect(kinds).toEqual(['wave.cancelled', 'wave.started']);
    expect((await counts()).deliveries).toMatchObject({ pending: 0, failed: 0, lastFailure: null });
  });
});
