import { DateTime } from 'luxon';
import { aWave, createEngineHarness, EngineHarness } from '@app/testing';
import { WaveCommandsService } from './wave-commands.service';

describe('wave scheduling (real PostgreSQL, Redis, simulator)', () => {
  let h: EngineHarness;
  beforeAll(async () => {
    h = await createEngineHarness('schedule', { accounts: 200 });
    await h.importPopulation({ count: 200, seed: 9 });
  });
  afterAll(async () => {
    await h?.close();
  });

  const base = aWave().cohorts('general').protocols('imap').rate(1000);
  const row = async (id: string) =>
    (
      await h.db.dataSource.query<
        { state: string; start_at: Date; schedule_lateness_ms: number | null; schedule_fired_at: Date | null }[]
      >(
        `SELECT state, start_at, schedule_lateness_ms::float8 AS schedule_lateness_ms, schedule_fired_at FROM waves WHERE id = $1`,
        [id],
      )
    )[0];

  it('maps a local start time to the right instant across DST', async () => {
    const summer = await base.name('summer').schedule('2026-05-09T08:00', 'Europe/Paris').create(h);
    expect((await row(summer.id)).start_at.toISOString()).toBe('2026-05-09T06:00:00.000Z');
    const winter = await base.name('winter').schedule('2026-11-30T08:00', 'Europe/Paris').create(h);
    expect((await row(winter.id)).start_at.toISOString()).toBe('2026-11-30T07:00:00.000Z');
    // The fall-back hour happens twice: the first occurrence (still summer time) is taken.
    const ambiguous = await base.name('fall back').schedule('2026-10-25T02:30', 'Europe/Paris').create(h);
    expect((await row(ambiguous.id)).start_at.toISOString()).toBe('2026-10-25T00:30:00.000Z');
  });

  it('refuses a local time that does not exist (spring forward) or an unknown zone, naming the field', async () => {
    await expect(base.name('gap').schedule('2026-03-29T02:30', 'Europe/Paris').create(h)).rejects.toMatchObject({
      kind: 'invalid',
      extra: { errors: [expect.objectContaining({ field: 'startLocal' })] },
    });
    await expect(base.name('zone').schedule('2026-05-09T08:00', 'Europe/Atlantis').create(h)).rejects.toMatchObject({
      kind: 'invalid',
      extra: { errors: [expect.objectContaining({ field: 'timeZone' })] },
    });
  });

  it('fires exactly once when two schedulers race, and records how late it fired', async () => {
    const past = DateTime.now().setZone('America/New_York').minus({ minutes: 3 }).toFormat("yyyy-MM-dd'T'HH:mm");
    const wave = await base.name('late').schedule(past, 'America/New_York').create(h);
    await h.commands.schedule(wave.id, 'ops:test');
    const other = new WaveCommandsService(h.db.dataSource, h.producer);
    const results = await Promise.all([
      h.commands.fireSchedule(wave.id),
      other.fireSchedule(wave.id),
      other.fireSchedule(wave.id),
    ]);
    expect(results.filter((r) => r !== null)).toHaveLength(1);
    const r = await row(wave.id);
    expect(r.state).toBe('running');
    expect(r.schedule_lateness_ms).toBeGreaterThanOrEqual(120_000);
    const fired = await h.db.dataSource.query(
      `SELECT count(*)::int AS n FROM audit_log WHERE wave_id = $1 AND action = 'wave.schedule_fired'`,
      [wave.id],
    );
    expect(fired).toEqual([{ n: 1 }]);
  });

  it('refuses to schedule a start long past (a plan file kept from another day): it would start at once', async () => {
    const past = DateTime.now().setZone('Europe/Paris').minus({ days: 40 }).toFormat("yyyy-MM-dd'T'HH:mm");
    const wave = await base.name('stale plan').schedule(past, 'Europe/Paris').create(h);
    await expect(h.commands.schedule(wave.id, 'ops:test')).rejects.toMatchObject({
      code: 'start_passed',
      kind: 'conflict',
      extra: { field: 'startLocal' },
      message: expect.stringMatching(/^the wave cannot be scheduled: its start \(.+\) passed 40 days ago, more than/),
    });
    expect((await row(wave.id)).state).toBe('draft');
    const audits = await h.db.dataSource.query(`SELECT action FROM audit_log WHERE wave_id = $1 ORDER BY id`, [
      wave.id,
    ]);
    expect(audits).toEqual([{ action: 'wave.created' }]);
    // Started now on purpose, it runs.
    expect(await h.commands.start(wave.id, 'ops:test')).toMatchObject({ state: 'running' });
  });

  it('fires a schedule whose start passed more than 2^31 ms (24.8 days) ago, recording the whole lateness', async () => {
    // Scheduled in time, then no worker for 40 days: the lateness no longer fits an integer column; the UPDATE failed
    // on every reconcile round, the wave stayed scheduled for good.
    const soon = DateTime.now().setZone('Europe/Paris').plus({ hours: 1 }).toFormat("yyyy-MM-dd'T'HH:mm");
    const wave = await base.name('long past').schedule(soon, 'Europe/Paris').create(h);
    await h.commands.schedule(wave.id, 'ops:test');
    await h.db.owner.query(`UPDATE waves SET start_at = now() - interval '40 days' WHERE id = $1`, [wave.id]);
    expect(await h.commands.fireSchedule(wave.id)).toMatchObject({ state: 'running' });
    const r = await row(wave.id);
    expect(r.state).toBe('running');
    expect(r.schedule_lateness_ms).toBeGreaterThanOrEqual(40 * 86_400_000 - 60_000);
  });

  it('starts a scheduled wave at its time through the worker (delayed job, reconciler as safety net)', async () => {
    await h.startWorker();
    const soon = DateTime.now().setZone('Asia/Tokyo').plus({ seconds: 3 }).startOf('second');
    const wave = await base.name('soon').schedule(soon.toFormat("yyyy-MM-dd'T'HH:mm:ss"), 'Asia/Tokyo').create(h);
    await h.commands.schedule(wave.id, 'ops:test');
    expect((await row(wave.id)).state).toBe('scheduled');
    await h.untilWaveState(wave.id, 'completed', {
      timeoutMs: 90_000,
      intervalMs: 250,
      description: 'fired and completed',
    });
    const r = await row(wave.id);
    expect(r.schedule_fired_at!.getTime()).toBeGreaterThanOrEqual(soon.toMillis());
    expect(r.schedule_lateness_ms).toBeLessThan(5000);
  });
});
