import { DateTime } from 'luxon';
import { populationLogin, TimeWindows } from '@app/domain';
import { aWave, createEngineHarness, EngineHarness, WorkerProcess } from '@app/testing';
import { WaveCommandsService } from '../waves/wave-commands.service';

/*
 * Time windows on the real engine (docs/windows.md): PostgreSQL, Redis, the simulator over HTTP, in-process workers and,
 * for the restart, worker processes. The clock is the engine's seam: shifted, it crosses both 2026 DST changes of
 * Europe/Paris in seconds; unshifted, blackouts a few seconds long cross a running wave.
 */
describe('time windows (real PostgreSQL, Redis, simulator, workers)', () => {
  let h: EngineHarness;
  /** The engine's clock runs this far ahead of the real one (0: real time). */
  let shiftMs = 0;
  const clock = () => new Date(Date.now() + shiftMs);
  /** Each test takes its own 400 accounts. */
  let nextSlice = 0;

  beforeAll(async () => {
    h = await createEngineHarness('windows', { accounts: 3000 }, {}, undefined, clock);
    await h.importPopulation({ count: 3000, seed: 20, leakedShare: 0 });
  });
  afterEach(() => {
    shiftMs = 0;
  });
  afterAll(async () => {
    await h?.close();
  });

  const wave = (windows: TimeWindows, rate: number) => {
    const first = nextSlice++ * 400 + 1;
    const logins = Array.from({ length: 400 }, (_, i) => populationLogin(first + i));
    return aWave(`windows ${nextSlice}`)
      .selector({ type: 'logins', logins })
      .protocols('imap')
      .rate(rate)
      .windows(windows);
  };
  const utc = (ms: number) => DateTime.fromMillis(ms, { zone: 'UTC' }).toFormat("yyyy-MM-dd'T'HH:mm:ss");
  /** A blackout of the next seconds, on whole seconds. */
  const blackout = (fromS: number, toS: number) => {
    const base = Math.ceil(Date.now() / 1000) * 1000;
    return { start: base + fromS * 1000, end: base + toS * 1000 };
  };
  const audits = (id: string, action: string) =>
    h.db.dataSource.query<{ actor: string; detail: Record<string, unknown> | null; at: Date }[]>(
      `SELECT actor, detail, at FROM audit_log WHERE wave_id = $1 AND action = $2 ORDER BY id`,
      [id, action],
    );
  const detail = async (id: string) =>
    (
      await h.db.dataSource.query<{ status_detail: Record<string, unknown> | null }[]>(
        `SELECT status_detail FROM waves WHERE id = $1`,
        [id],
      )
    )[0].status_detail;
  const done = (id: string) =>
    h.untilCounters(id, (c) => c.total > 0 && !c.pending && !c.in_flight, {
      timeoutMs: 90_000,
      description: 'every member has an outcome',
    });

  it('an ops pause is not undone by the window opening; two services racing the opening resume once', async () => {
    const windows: TimeWindows = {
      timeZone: 'Europe/Paris',
      allowed: [{ days: ['mon'], start: '08:00', end: '20:00' }],
    };
    // Sunday evening in Paris: closed.
    shiftMs = Date.parse('2026-05-10T18:00:00Z') - Date.now();
    const a = await wave(windows, 100).create(h);
    const b = await wave(windows, 100).create(h);
    for (const w of [a, b]) {
      await h.commands.start(w.id, 'ops:test');
      expect(await h.commands.windowEdge(w.id)).toBe('closed');
      expect(await h.waveStatus(w.id)).toMatchObject({ state: 'paused', status_reason: 'outside_window' });
    }
    await h.commands.pause(a.id, 'ops:test');
    expect(await h.waveStatus(a.id)).toMatchObject({ state: 'paused', status_reason: 'ops' });

    // Monday 08:00 Paris: open.
    shiftMs = Date.parse('2026-05-11T06:00:00Z') - Date.now();
    expect(await h.commands.windowEdge(a.id)).toBe('skipped');
    expect(await h.waveStatus(a.id)).toMatchObject({ state: 'paused', status_reason: 'ops' });

    const other = new WaveCommandsService(h.db.dataSource, h.producer, undefined, clock);
    const results = await Promise.all([h.commands.windowEdge(b.id), other.windowEdge(b.id), other.openWindow(b.id)]);
    expect(results.filter((r) => r === 'opened' || (r !== null && typeof r === 'object'))).toHaveLength(1);
    expect(await h.waveStatus(b.id)).toMatchObject({ state: 'running' });
    expect(await audits(b.id, 'wave.window_opened')).toHaveLength(1);
    for (const w of [a, b]) await h.commands.cancel(w.id, 'ops:test');
  });

  it('a worker killed while the window is closed: the next worker resumes the wave once, at the opening', async () => {
    const worker = await WorkerProcess.start(h.env);
    let next: WorkerProcess | undefined;
    try {
      const b = blackout(2, 12);
      const w = await wave({ timeZone: 'UTC', blackouts: [{ start: utc(b.start), end: utc(b.end) }] }, 40).started(h);
      await h.untilWaveState(w.id, 'paused', { timeoutMs: 20_000, description: 'paused by its window' });
      await worker.kill();
      next = await WorkerProcess.start(h.env);
      await done(w.id);
      expect(await audits(w.id, 'wave.window_opened')).toHaveLength(1);
      expect(await audits(w.id, 'wave.window_closed')).toHaveLength(1);
      const calls = h.batchCalls(w.id);
      expect(calls.filter((c) => c.startedAt >= b.start && c.startedAt < b.end)).toEqual([]);
      expect(calls.some((c) => c.startedAt >= b.end)).toBe(true);
    } finally {
      await worker.kill();
      await next?.terminate();
    }
  });

  // From here on two workers run in this process (no worker ran before: the tests above drive the commands alone).
  it('a blackout crossing a running wave pauses it (outside_window) and resumes it once, with two workers', async () => {
    await h.startWorker();
    await h.startWorker();
    const b = blackout(4, 9);
    // 400 accounts at 40/s: about 10 s of sending, cut by the blackout.
    const w = await wave({ timeZone: 'UTC', blackouts: [{ start: utc(b.start), end: utc(b.end) }] }, 40).started(h);
    await h.untilWaveState(w.id, 'paused', { timeoutMs: 20_000, description: 'paused by its window' });
    expect(await h.waveStatus(w.id)).toMatchObject({ state: 'paused', status_reason: 'outside_window' });
    expect(await detail(w.id)).toMatchObject({ opensAt: new Date(b.end).toISOString(), timeZone: 'UTC' });
    await done(w.id);
    await h.untilWaveState(w.id, 'completed', { timeoutMs: 30_000 });

    // One close and one open in the audit, by the service, whichever of the two workers (and their pumps) saw it.
    const closed = await audits(w.id, 'wave.window_closed');
    const opened = await audits(w.id, 'wave.window_opened');
    expect(closed).toHaveLength(1);
    expect(opened).toHaveLength(1);
    expect(closed[0]).toMatchObject({ actor: 'windows', detail: { opensAt: new Date(b.end).toISOString() } });
    expect(opened[0].actor).toBe('windows');
    // The boundary fell in the middle of the wave, and no call started inside the blackout.
    const calls = h.batchCalls(w.id);
    expect(calls.some((c) => c.startedAt < b.start)).toBe(true);
    expect(calls.some((c) => c.startedAt >= b.end)).toBe(true);
    expect(calls.filter((c) => c.startedAt >= b.start && c.startedAt < b.end)).toEqual([]);
  });

  it('spring DST: a window opening at 02:30 Paris opens when the clocks jump from 02:00 to 03:00 (shifted clock)', async () => {
    // 2026-03-29 01:59:54 CET: six seconds before the jump (01:00Z).
    shiftMs = Date.parse('2026-03-29T00:59:54Z') - Date.now();
    const w = await wave(
      { timeZone: 'Europe/Paris', allowed: [{ days: ['sun'], start: '02:30', end: '05:00' }] },
      200,
    ).started(h);
    await done(w.id);
    const closed = await audits(w.id, 'wave.window_closed');
    const opened = await audits(w.id, 'wave.window_opened');
    expect(closed).toHaveLength(1);
    expect(closed[0].detail).toMatchObject({ opensAt: '2026-03-29T01:00:00.000Z', timeZone: 'Europe/Paris' });
    expect(opened).toHaveLength(1);
    // Every call started at or after the jump, on the engine's clock.
    const jumpReal = Date.parse('2026-03-29T01:00:00Z') - shiftMs;
    const calls = h.batchCalls(w.id);
    expect(calls.length).toBeGreaterThan(0);
    expect(calls.filter((c) => c.startedAt < jumpReal)).toEqual([]);
  });

  it('autumn DST: a window ending at 02:30 Paris closes at the first 02:30 and next opens a week later in winter time', async () => {
    // 2026-10-25 02:29:52 CEST, the first time: eight seconds before the window (Sunday 00:00–02:30) ends.
    shiftMs = Date.parse('2026-10-25T00:29:52Z') - Date.now();
    const w = await wave(
      { timeZone: 'Europe/Paris', allowed: [{ days: ['sun'], start: '00:00', end: '02:30' }] },
      20,
    ).started(h);
    await h.untilWaveState(w.id, 'paused', { timeoutMs: 30_000, description: 'paused at 02:30 CEST' });
    expect(await h.waveStatus(w.id)).toMatchObject({ status_reason: 'outside_window' });
    // The next Sunday midnight is in winter time (UTC+1).
    expect(await detail(w.id)).toMatchObject({ opensAt: '2026-10-31T23:00:00.000Z' });
    const closeReal = Date.parse('2026-10-25T00:30:00Z') - shiftMs;
    const calls = h.batchCalls(w.id);
    expect(calls.length).toBeGreaterThan(0);
    expect(calls.filter((c) => c.startedAt >= closeReal)).toEqual([]);
    // In the repeated hour (02:10 CET, the second time) the window stays closed: it ended at the first 02:30.
    shiftMs = Date.parse('2026-10-25T01:10:00Z') - Date.now();
    expect(await h.commands.windowEdge(w.id)).toBe('skipped');
    expect(await h.waveStatus(w.id)).toMatchObject({ state: 'paused', status_reason: 'outside_window' });
    await h.commands.cancel(w.id, 'ops:test');
  });
});
