import { JsonNotification } from '@app/domain';
import {
  aWave,
  createEngineHarness,
  EngineHarness,
  NotificationReceiver,
  pollUntil,
  WorkerProcess,
} from '@app/testing';
import { NotificationService } from './notification.service';

/**
 * Notifications delivered by real worker processes (the built apps/worker, its NOTIFY_* timer): one SIGKILLed in the
 * middle of a delivery (delivered after a restart, acknowledged once), two delivering together (each event once per
 * subscription, in order per wave), and a wave run by the engine (ramp step, completion, rollback and its conflicts).
 */
describe('notifications from worker processes (real PostgreSQL, Redis, receiver)', () => {
  let h: EngineHarness;
  let receiver: NotificationReceiver;
  let service: NotificationService;
  const workers: WorkerProcess[] = [];
  const env = () => ({
    ...h.env,
    NOTIFY_POLL_MS: '100',
    NOTIFY_TIMEOUT_MS: '3000',
    NOTIFY_LEASE_MS: '4000',
    NOTIFY_BACKOFF_BASE_MS: '50',
    NOTIFY_BACKOFF_MAX_MS: '200',
    PUBLIC_URL: 'https://reopen.example',
  });
  const startWorker = async () => {
    const w = await WorkerProcess.start(env());
    workers.push(w);
    return w;
  };

  beforeAll(async () => {
    h = await createEngineHarness('notifyworkers');
    await h.importPopulation({ count: 400, seed: 43, leakedShare: 0 });
    receiver = await NotificationReceiver.start();
    service = new NotificationService(h.db.dataSource);
  });
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.kill()));
    receiver.answer({ kind: 'ok' });
  });
  afterAll(async () => {
    await receiver?.close();
    await h?.close();
  });

  const subscribe = (path: string) => service.create({ name: path, url: `${receiver.url}/${path}` }, 'ops:test');
  const bodies = (path: string) => receiver.acknowledged(`/${path}`).map((r) => JSON.parse(r.body) as JsonNotification);
  const kinds = (path: string, waveId: string) =>
    bodies(path)
      .filter((b) => b.wave?.id === waveId)
      .map((b) => b.kind);
  const untilDelivered = (subscriptionId: string, timeoutMs = 30_000) =>
    pollUntil(async () => (await service.get(subscriptionId)).deliveries.pending === 0, {
      timeoutMs,
      description: 'every notification acknowledged',
    });

  it('a worker SIGKILLed in the middle of a delivery: another delivers it after the lease, acknowledged once', async () => {
    const sub = await subscribe('killed');
    receiver.answer({ kind: 'slow', delayMs: 60_000 });
    const wave = await aWave('killed').rate(1).create(h);
    const victim = await startWorker();
    await h.commands.start(wave.id, 'ops:test');
    await h.commands.pause(wave.id, 'ops:test');
    await pollUntil(() => receiver.received.some((r) => r.path === '/killed'), {
      timeoutMs: 20_000,
      description: 'the first delivery in flight',
    });
    await victim.kill();
    expect(receiver.acknowledged('/killed')).toHaveLength(0);
    receiver.answer({ kind: 'ok' });
    await startWorker();
    await untilDelivered(sub.id);
    expect(kinds('killed', wave.id)).toEqual(['wave.started', 'wave.paused']);
    expect([...receiver.acknowledgedCounts('/killed').values()]).toEqual([1, 1]);
    const items = (await service.deliveries(sub.id, {})).items;
    expect(items.map((d) => [d.kind, d.state])).toEqual([
      ['wave.paused', 'delivered'],
      ['wave.started', 'delivered'],
    ]);
    // The head was attempted by the killed worker (its answer never came) and again by the new one.
    expect(items[1].attempts).toBeGreaterThanOrEqual(2);
    await h.commands.cancel(wave.id, 'ops:test');
  });

  it('two workers delivering: each event acknowledged once per subscription, in order per wave', async () => {
    const subs = await Promise.all(['w-1', 'w-2', 'w-3'].map(subscribe));
    receiver.answer({ kind: 'slow', delayMs: 20 });
    await Promise.all([startWorker(), startWorker()]);
    const waves = [];
    for (let i = 0; i < 8; i++) {
      const wave = await aWave(`two workers ${i}`).rate(1).started(h);
      await h.commands.pause(wave.id, 'ops:test');
      await h.commands.cancel(wave.id, 'ops:test');
      waves.push(wave);
    }
    for (const s of subs) await untilDelivered(s.id);
    for (const path of ['w-1', 'w-2', 'w-3']) {
      const counts = receiver.acknowledgedCounts(`/${path}`);
      expect(counts.size).toBe(24);
      expect([...counts.values()].every((n) => n === 1)).toBe(true);
      for (const w of waves) expect(kinds(path, w.id)).toEqual(['wave.started', 'wave.paused', 'wave.cancelled']);
    }
  });

  it('a wave run by the engine: started, ramp step done, completed, rollback started and finished with its conflicts', async () => {
    const sub = await subscribe('engine');
    await startWorker();
    const wave = await aWave('engine')
      .rate(2000)
      .batchSize(50)
      .ramp({ percent: 10, bakeSeconds: 1 }, { percent: 100, bakeSeconds: 0 })
      .started(h);
    await h.untilWaveState(wave.id, 'completed', { timeoutMs: 60_000 });
    await h.commands.rollback(wave.id, 'ops:test');
    await h.untilWaveState(wave.id, 'rolled_back', { timeoutMs: 60_000 });
    await untilDelivered(sub.id);
    expect(kinds('engine', wave.id)).toEqual([
      'wave.started',
      'wave.ramp_step_done',
      'wave.completed',
      'wave.rollback_started',
      'wave.rollback_finished',
    ]);
    const finished = bodies('engine').find((b) => b.kind === 'wave.rollback_finished')!;
    const counters = await h.counters(wave.id);
    expect(finished.conflicts).toBe(counters['rollback:conflict'] ?? 0);
    expect(finished.detail).toMatchObject({ restored: counters['rollback:rolled_back'] });
    expect(finished.statusPage).toBe(`https://reopen.example/#wave-${wave.id}`);
    expect(bodies('engine').find((b) => b.kind === 'wave.ramp_step_done')!.detail).toMatchObject({ step: 0 });
  });
});
