import { JsonNotification, verifySignature } from '@app/domain';
import {
  aWave,
  createEngineHarness,
  EngineHarness,
  NotificationReceiver,
  pollUntil,
  TEST_DISPATCHER_SETTINGS,
} from '@app/testing';
import { NotificationDispatcher } from './notification-dispatcher';
import { NotificationService } from './notification.service';

/**
 * Delivery (issue 20) against a real local receiver (node:http), real PostgreSQL and Redis: order per wave, signature,
 * the receiver down then up, slow, answering 500 and 429, a failing head holding back its own wave only, and two
 * dispatchers at once. The events come from the real commands (their audit rows, through the outbox trigger).
 */
describe('notification delivery (real PostgreSQL, a real receiver)', () => {
  let h: EngineHarness;
  let receiver: NotificationReceiver;
  let service: NotificationService;
  const settings = TEST_DISPATCHER_SETTINGS;
  let dispatcher: NotificationDispatcher;

  beforeAll(async () => {
    h = await createEngineHarness('notify');
    await h.importPopulation({ count: 300, seed: 41, leakedShare: 0 });
    receiver = await NotificationReceiver.start();
    service = new NotificationService(h.db.dataSource);
    dispatcher = new NotificationDispatcher(h.db.dataSource, settings);
  });
  afterAll(async () => {
    await dispatcher?.close();
    await receiver?.close();
    await h?.close();
  });

  /** A subscription at its own path on the receiver. */
  const subscribe = async (path: string, extra: Partial<Parameters<NotificationService['create']>[0]> = {}) =>
    service.create({ name: path, url: `${receiver.url}/${path}`, ...extra }, 'ops:test');
  const bodies = (path: string) => receiver.acknowledged(`/${path}`).map((r) => JSON.parse(r.body) as JsonNotification);
  const kinds = (path: string, waveId?: string) =>
    bodies(path)
      .filter((b) => waveId === undefined || b.wave?.id === waveId)
      .map((b) => b.kind);
  /** Drains until every delivery of the subscription is acknowledged (the backoff's waits are short here). */
  const deliverAll = async (subscriptionId: string, d = dispatcher) =>
    pollUntil(
      async () => {
        await d.drain();
        return (await service.get(subscriptionId)).deliveries.pending === 0;
      },
      { timeoutMs: 20_000, intervalMs: 50, description: 'every notification delivered' },
    );
  /** A wave started, paused and resumed by ops, halted by a gate: four events (no worker runs its pumps). */
  const fourEvents = async (name: string) => {
    const wave = await aWave(name).rate(1).started(h);
    await h.commands.pause(wave.id, 'ops:test');
    await h.commands.resume(wave.id, 'ops:test');
    await h.commands.halt(
      wave.id,
      'gate:failed-logins',
      { gates: [{ gate: 'failed-logins', status: 'breach', value: 412, threshold: 100 }] },
      false,
    );
    return wave;
  };
  const FOUR = ['wave.started', 'wave.paused', 'wave.resumed', 'wave.halted'];

  it('delivers a wave’s events in order, signed with the subscription’s secret, each once, with the gate of a halt', async () => {
    const sub = await subscribe('ordered');
    const slack = await subscribe('slack', { format: 'slack', kinds: ['wave.halted'] });
    const wave = await fourEvents('ordered');
    await deliverAll(sub.id);
    await deliverAll(slack.id);
    expect(kinds('ordered', wave.id)).toEqual(FOUR);
    const halt = bodies('ordered').find((b) => b.kind === 'wave.halted')!;
    expect(halt).toMatchObject({
      wave: { id: wave.id, name: 'ordered' },
      gate: { gate: 'failed-logins', value: 412, threshold: 100 },
      reason: 'gate failed-logins: value 412, threshold 100',
      statusPage: `https://reopen.example/#wave-${wave.id}`,
    });
    for (const r of receiver.acknowledged('/ordered')) {
      expect(verifySignature(sub.secret, r, r.body, Math.floor(Date.now() / 1000))).toBe(true);
      expect(verifySignature(slack.secret, r, r.body, Math.floor(Date.now() / 1000))).toBe(false);
      expect(r.eventId).toBe((JSON.parse(r.body) as JsonNotification).id);
    }
    const [slackPost] = receiver.acknowledged('/slack');
    expect(JSON.parse(slackPost.body)).toEqual({
      text: `*Wave "ordered" HALTED*: gate failed-logins: value 412, threshold 100 <https://reopen.example/#wave-${wave.id}|status page>`,
    });
    expect(slackPost.eventId).toBe(halt.id);
    expect([...receiver.acknowledgedCounts('/ordered').values()].every((n) => n === 1)).toBe(true);
    const page = await service.deliveries(sub.id, {});
    expect(page.items.map((d) => [d.kind, d.state, d.attempts, d.lastStatus])).toEqual(
      [...FOUR].reverse().map((k) => [k, 'delivered', 1, 200]),
    );
  });

  it('a receiver down then up: nothing lost, in order, none twice; failures visible meanwhile', async () => {
    const sub = await subscribe('downup');
    await receiver.down();
    const wave = await fourEvents('downup');
    await dispatcher.drain();
    await dispatcher.drain();
    // Only the head of the wave's stream is tried while it fails: the later events wait behind it.
    const waiting = await service.deliveries(sub.id, {});
    expect(waiting.items.map((d) => [d.kind, d.state])).toEqual([...FOUR].reverse().map((k) => [k, 'pending']));
    const head = waiting.items[3];
    expect(head.attempts).toBeGreaterThanOrEqual(1);
    expect(head.lastStatus).toBeNull();
    expect(head.lastError).toMatch(/ECONNREFUSED/);
    expect(waiting.items.slice(0, 3).every((d) => d.attempts === 0)).toBe(true);
    expect((await service.get(sub.id)).deliveries).toMatchObject({ pending: 4, failing: 1 });
    await receiver.up();
    await deliverAll(sub.id);
    expect(kinds('downup', wave.id)).toEqual(FOUR);
    expect([...receiver.acknowledgedCounts('/downup').values()]).toEqual([1, 1, 1, 1]);
  });

  it('a receiver answering 500, then 429 with Retry-After, then 200: retried with backoff, Retry-After honoured', async () => {
    const sub = await subscribe('flaky');
    let calls = 0;
    receiver.answer((r) => {
      if (r.path !== '/flaky') return { kind: 'ok' };
      calls++;
      return calls <= 2
        ? { kind: 'status', status: 500 }
        : calls === 3
          ? { kind: 'rate_limited', retryAfterS: 1 }
          : { kind: 'ok' };
    });
    const wave = await aWave('flaky').rate(1).started(h);
    await pollUntil(
      async () => {
        await dispatcher.drain();
        return calls >= 3;
      },
      { timeoutMs: 10_000, intervalMs: 50, description: 'two 500s and a 429' },
    );
    const [after429] = (await service.deliveries(sub.id, {})).items;
    expect(after429).toMatchObject({ state: 'pending', attempts: 3, lastStatus: 429 });
    // The 429's Retry-After: 1 s (the backoff alone would wait 200 ms at most here).
    expect(after429.nextAttemptAt!.getTime() - after429.lastAttemptAt!.getTime()).toBeGreaterThanOrEqual(990);
    await deliverAll(sub.id);
    expect(kinds('flaky', wave.id)).toEqual(['wave.started']);
    expect(receiver.received.filter((r) => r.path === '/flaky').map((r) => r.answered)).toEqual([500, 500, 429, 200]);
    receiver.answer({ kind: 'ok' });
  });

  it('a slow receiver: an answer past the timeout is no acknowledgement; the event comes again and is acknowledged once', async () => {
    const sub = await subscribe('slow');
    const impatient = new NotificationDispatcher(h.db.dataSource, { ...settings, timeoutMs: 1_000 });
    let slow = true;
    receiver.answer((r) => (r.path === '/slow' && slow ? { kind: 'slow', delayMs: 3_000 } : { kind: 'ok' }));
    const wave = await aWave('slow').rate(1).started(h);
    await impatient.drain();
    const [first] = (await service.deliveries(sub.id, {})).items;
    expect(first).toMatchObject({ state: 'pending', attempts: 1, lastStatus: null });
    expect(receiver.received.filter((r) => r.path === '/slow')).toHaveLength(1);
    slow = false;
    await deliverAll(sub.id, impatient);
    const seen = receiver.received.filter((r) => r.path === '/slow');
    expect(seen.length).toBeGreaterThanOrEqual(2);
    expect(new Set(seen.map((r) => r.eventId)).size).toBe(1); // the same event id on every attempt
    expect(receiver.acknowledged('/slow')).toHaveLength(1);
    expect(kinds('slow', wave.id)).toEqual(['wave.started']);
    // Within the timeout a slow receiver is just slow.
    receiver.answer((r) => (r.path === '/slow' ? { kind: 'slow', delayMs: 100 } : { kind: 'ok' }));
    await h.commands.pause(wave.id, 'ops:test');
    await deliverAll(sub.id, impatient);
    expect(kinds('slow', wave.id)).toEqual(['wave.started', 'wave.paused']);
    receiver.answer({ kind: 'ok' });
    await impatient.close();
  });

  it('a failing head holds back its own wave for its own subscription only', async () => {
    const a = await subscribe('a');
    const b = await subscribe('b');
    const w1 = await aWave('stuck').rate(1).started(h);
    const w2 = await aWave('free').rate(1).started(h);
    receiver.answer((r) =>
      r.path === '/a' && (JSON.parse(r.body) as JsonNotification).wave?.id === w1.id
        ? { kind: 'status', status: 503 }
        : { kind: 'ok' },
    );
    await h.commands.pause(w1.id, 'ops:test');
    await h.commands.pause(w2.id, 'ops:test');
    await deliverAll(b.id);
    await pollUntil(
      async () => {
        await dispatcher.drain();
        return kinds('a', w2.id).length === 2;
      },
      { timeoutMs: 10_000, intervalMs: 50, description: 'wave 2 delivered to a' },
    );
    expect(kinds('a', w1.id)).toEqual([]);
    expect(kinds('b', w1.id)).toEqual(['wave.started', 'wave.paused']);
    expect(kinds('b', w2.id)).toEqual(['wave.started', 'wave.paused']);
    const tried = receiver.received.filter(
      (r) => r.path === '/a' && (JSON.parse(r.body) as JsonNotification).wave?.id === w1.id,
    );
    expect(new Set(tried.map((r) => (JSON.parse(r.body) as JsonNotification).kind))).toEqual(new Set(['wave.started']));
    receiver.answer({ kind: 'ok' });
    await deliverAll(a.id);
    expect(kinds('a', w1.id)).toEqual(['wave.started', 'wave.paused']);
  });

  it('two dispatchers draining at once: each event acknowledged once per subscription, in order per wave', async () => {
    const subs = await Promise.all(['two-1', 'two-2', 'two-3'].map((p) => subscribe(p)));
    const other = new NotificationDispatcher(h.db.dataSource, { ...settings, batchSize: 3 });
    const waves = [];
    for (let i = 0; i < 6; i++) waves.push(await fourEvents(`two-${i}`));
    await Promise.all([
      pollUntil(async () => (await Promise.all([dispatcher.drain(), other.drain()]), true), { timeoutMs: 20_000 }),
      ...subs.map((s) => deliverAll(s.id, other)),
    ]);
    await other.close();
    for (const path of ['two-1', 'two-2', 'two-3']) {
      const counts = receiver.acknowledgedCounts(`/${path}`);
      expect(counts.size).toBe(24);
      expect([...counts.values()].every((n) => n === 1)).toBe(true);
      for (const w of waves) expect(kinds(path, w.id)).toEqual(FOUR);
    }
  });

  it('a deleted subscription receives nothing more; its pending deliveries are dropped', async () => {
    const sub = await subscribe('deleted');
    await receiver.down();
    await aWave('deleted').rate(1).started(h);
    await dispatcher.drain();
    await service.delete(sub.id, 'ops:test');
    await receiver.up();
    await dispatcher.drain();
    expect(receiver.acknowledged('/deleted')).toHaveLength(0);
    const [row] = await h.db.dataSource.query<{ state: string }[]>(
      `SELECT state FROM notification_deliveries WHERE subscription_id = $1`,
      [sub.id],
    );
    expect(row.state).toBe('dropped');
  });
});
