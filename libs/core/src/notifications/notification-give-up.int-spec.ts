import { JsonNotification } from '@app/domain';
import {
  aWave,
  createEngineHarness,
  EngineHarness,
  NotificationReceiver,
  pollUntil,
  TEST_DISPATCHER_SETTINGS,
} from '@app/testing';
import { DeliveryAttemptOutcome } from '../engine/engine-metrics';
import { NotFoundError } from '../errors';
import { DispatcherSettings, NotificationDispatcher } from './notification-dispatcher';
import { NotificationService } from './notification.service';

/**
 * A receiver gone for good (issue 20): past its bound (NOTIFY_GIVE_UP_AFTER_S, NOTIFY_MAX_ATTEMPTS) a delivery ends
 * `failed` with its last error, the next events of its wave go on in order, the failure shows over the service (and
 * the metrics' counter), ops send it again; a subscription deleted with a delivery in flight is not revived by the
 * answer. Real PostgreSQL, a real local receiver; the bounds are small settings, not sleeps.
 */
describe('notification give-up bound (real PostgreSQL, a real receiver)', () => {
  let h: EngineHarness;
  let receiver: NotificationReceiver;
  let service: NotificationService;
  const outcomes = new Map<DeliveryAttemptOutcome, number>();
  const metrics = {
    notificationsAttempted: (o: DeliveryAttemptOutcome, n: number) => outcomes.set(o, (outcomes.get(o) ?? 0) + n),
  };
  const base = TEST_DISPATCHER_SETTINGS;
  const dispatchers: NotificationDispatcher[] = [];
  const dispatcher = (giveUp: DispatcherSettings['giveUp']) => {
    const d = new NotificationDispatcher(h.db.dataSource, { ...base, giveUp }, metrics);
    dispatchers.push(d);
    return d;
  };

  beforeAll(async () => {
    h = await createEngineHarness('notify-give-up');
    await h.importPopulation({ count: 100, seed: 43, leakedShare: 0 });
    receiver = await NotificationReceiver.start();
    service = new NotificationService(h.db.dataSource);
  });
  afterAll(async () => {
    for (const d of dispatchers) await d.close();
    await receiver?.close();
    await h?.close();
  });

  const subscribe = (path: string) => service.create({ name: path, url: `${receiver.url}/${path}` }, 'ops:test');
  const kindsAcknowledged = (path: string) =>
    receiver.acknowledged(`/${path}`).map((r) => (JSON.parse(r.body) as JsonNotification).kind);
  const kindsTried = (path: string) =>
    receiver.received.filter((r) => r.path === `/${path}`).map((r) => (JSON.parse(r.body) as JsonNotification).kind);
  const stateOf = async (subscriptionId: string) =>
    (await service.deliveries(subscriptionId, {})).items.map((d) => [d.kind, d.state]);
  const drainUntil = (d: NotificationDispatcher, done: () => Promise<boolean>, description: string) =>
    pollUntil(async () => (await d.drain(), done()), { timeoutMs: 20_000, intervalMs: 50, description });

  it('past NOTIFY_GIVE_UP_AFTER_S the head ends failed with its last error, and the wave’s next events go on in order', async () => {
    const sub = await subscribe('gone');
    const d = dispatcher({ afterMs: 1_000, maxAttempts: 0 });
    receiver.answer((r) => (r.path === '/gone' ? { kind: 'status', status: 503 } : { kind: 'ok' }));
    const wave = await aWave('gone').rate(1).started(h);
    await h.commands.pause(wave.id, 'ops:test');
    await h.commands.resume(wave.id, 'ops:test');
    const gaveUpBefore = outcomes.get('gave_up') ?? 0;
    await drainUntil(d, async () => (await service.get(sub.id)).deliveries.failed === 1, 'the head given up');
    // The receiver is back just as the head is given up: the rest of the wave comes, in order, without the head.
    receiver.answer({ kind: 'ok' });
    await drainUntil(d, async () => (await service.get(sub.id)).deliveries.pending === 0, 'the rest delivered');

    expect(kindsAcknowledged('gone')).toEqual(['wave.paused', 'wave.resumed']);
    // Only the head was tried (several times) while it failed; the later events waited behind it.
    const tried = kindsTried('gone');
    expect(tried.slice(-2)).toEqual(['wave.paused', 'wave.resumed']);
    expect(tried.length).toBeGreaterThan(3);
    expect(tried.slice(0, -2).every((k) => k === 'wave.started')).toBe(true);
    expect(await stateOf(sub.id)).toEqual([
      ['wave.resumed', 'delivered'],
      ['wave.paused', 'delivered'],
      ['wave.started', 'failed'],
    ]);
    const [head] = (await service.deliveries(sub.id, { state: 'failed' })).items;
    expect(head).toMatchObject({ kind: 'wave.started', lastStatus: 503, lastError: 'HTTP 503', nextAttemptAt: null });
    expect(head.failedAt).toBeInstanceOf(Date);
    // Its last attempt was made when the bound fell, not a backoff after it.
    expect(head.failedAt!.getTime() - head.eventAt.getTime()).toBeGreaterThanOrEqual(1_000);
    const { deliveries } = await service.get(sub.id);
    expect(deliveries).toMatchObject({ pending: 0, delivered: 2, failing: 0, failed: 1 });
    expect(deliveries.lastFailure).toEqual({ at: head.failedAt, error: 'HTTP 503' });
    expect((await service.pending()).find((p) => p.subscriptionId === sub.id)).toMatchObject({ pending: 0, failed: 1 });
    expect((outcomes.get('gave_up') ?? 0) - gaveUpBefore).toBe(1);
  });

  it('NOTIFY_MAX_ATTEMPTS: given up after that many attempts; ops redeliver it and it comes, once', async () => {
    const sub = await subscribe('max');
    const d = dispatcher({ afterMs: 86_400_000, maxAttempts: 2 });
    receiver.answer((r) => (r.path === '/max' ? { kind: 'status', status: 500 } : { kind: 'ok' }));
    await aWave('max').rate(1).started(h);
    await drainUntil(d, async () => (await service.get(sub.id)).deliveries.failed === 1, 'given up');
    expect(kindsTried('max')).toEqual(['wave.started', 'wave.started']);
    const [failed] = (await service.deliveries(sub.id, {})).items;
    expect(failed).toMatchObject({ state: 'failed', attempts: 2, lastStatus: 500, lastError: 'HTTP 500' });
    // Nothing is tried again by itself.
    await d.drain();
    expect(kindsTried('max')).toHaveLength(2);

    receiver.answer({ kind: 'ok' });
    await expect(service.redeliver(sub.id, '999999999', 'ops:test')).rejects.toBeInstanceOf(NotFoundError);
    expect(await service.redeliver(sub.id, failed.id, 'ops:test')).toEqual({ redelivered: [failed.id] });
    expect((await service.get(sub.id)).deliveries).toMatchObject({ pending: 1, failed: 0, lastFailure: null });
    await drainUntil(d, async () => (await service.get(sub.id)).deliveries.delivered === 1, 'redelivered');
    expect(kindsAcknowledged('max')).toEqual(['wave.started']);
    expect([...receiver.acknowledgedCounts('/max').values()]).toEqual([1]);
    expect(await service.redeliver(sub.id, null, 'ops:test')).toEqual({ redelivered: [] });
    const audited = await h.db.dataSource.query<{ actor: string; detail: { id: string; deliveries: string[] } }[]>(
      `SELECT actor, detail FROM audit_log WHERE action = 'subscription.redelivered' AND detail ->> 'id' = $1`,
      [sub.id],
    );
    expect(audited).toEqual([{ actor: 'ops:test', detail: { id: sub.id, deliveries: [failed.id] } }]);
  });

  it('redelivering every failed one of a subscription: pending again, each bound restarted', async () => {
    const sub = await subscribe('all');
    const d = dispatcher({ afterMs: 86_400_000, maxAttempts: 1 });
    receiver.answer((r) => (r.path === '/all' ? { kind: 'status', status: 404 } : { kind: 'ok' }));
    await aWave('all-1').rate(1).started(h);
    await aWave('all-2').rate(1).started(h);
    await drainUntil(d, async () => (await service.get(sub.id)).deliveries.failed === 2, 'both given up');
    receiver.answer({ kind: 'ok' });
    const { redelivered } = await service.redeliver(sub.id, null, 'ops:test');
    expect(redelivered).toHaveLength(2);
    await drainUntil(d, async () => (await service.get(sub.id)).deliveries.delivered === 2, 'both redelivered');
    expect(kindsAcknowledged('all')).toEqual(['wave.started', 'wave.started']);
  });

  it('a subscription deleted while a delivery is in flight: the answer does not revive it, nothing is tried again', async () => {
    const sub = await subscribe('inflight');
    const d = dispatcher(base.giveUp);
    receiver.answer((r) => (r.path === '/inflight' ? { kind: 'slow', delayMs: 250 } : { kind: 'ok' }));
    await aWave('inflight').rate(1).started(h);
    const draining = d.drain();
    await pollUntil(() => kindsTried('inflight').length === 1, { description: 'the POST in flight' });
    await service.delete(sub.id, 'ops:test');
    await draining;
    receiver.answer({ kind: 'ok' });
    await d.drain();
    expect(kindsTried('inflight')).toHaveLength(1);
    const rows = await h.db.dataSource.query<{ state: string; lease_owner: string | null }[]>(
      `SELECT state, lease_owner FROM notification_deliveries WHERE subscription_id = $1`,
      [sub.id],
    );
    expect(rows).toEqual([{ state: 'dropped', lease_owner: null }]);
  });
});
