import Redis from 'ioredis';
import { createTestDatabase, createTestRedis, TestDatabase, TestRedis } from '@app/testing';
import { SqlParams } from '../db/sql-params';
import { Throttle } from '../engine/throttle';
import { NotFoundError } from '../errors';
import { PaceRepository } from './pace.repository';
import { ProgressService } from './progress.service';

describe('ProgressService (real PostgreSQL)', () => {
  let db: TestDatabase;
  let service: ProgressService;

  beforeAll(async () => {
    db = await createTestDatabase('progress');
    service = new ProgressService(db.dataSource);
  });
  afterAll(async () => {
    await db?.drop();
  });

  async function capabilities(accountUpdatesPerSecond: number | null): Promise<void> {
    await db.owner.query(`DELETE FROM mailstore_capabilities`);
    if (accountUpdatesPerSecond === null) return;
    await db.owner.query(
      `INSERT INTO mailstore_capabilities (id, capabilities, batch_size_limit, account_updates_per_second, read_at)
       VALUES (1, '{}', 100, $1, now())`,
      [accountUpdatesPerSecond],
    );
  }

  async function wave(given: Record<string, unknown>): Promise<string> {
    const fields = { rate_per_second: 10, rollback_rate_per_second: 5, ...given };
    const columns = Object.keys(fields) as (keyof typeof fields)[];
    const p = new SqlParams();
    const values = columns.map((c) =>
      /_at$|_until$/.test(c) ? `now() - (${p.add(fields[c])} || ' seconds')::interval` : p.add(fields[c]),
    );
    const [row] = await db.dataSource.query<{ id: string }[]>(
      `INSERT INTO waves (name, selector, protocols, batch_size, created_by ${columns.map((c) => `, ${c}`).join('')})
       VALUES ('w', '{"type":"remaining"}', '{imap}', 100, 'test' ${values.map((v) => `, ${v}`).join('')})
       RETURNING id`,
      p.values,
    );
    return row.id;
  }

  async function counters(id: string, values: Record<string, number>): Promise<void> {
    for (const [name, value] of Object.entries(values)) {
      await db.dataSource.query(`INSERT INTO wave_counters (wave_id, name, value) VALUES ($1, $2, $3)`, [
        id,
        name,
        value,
      ]);
    }
  }

  async function batch(id: string, kind: string, size: number, secondsAgo: number, no: number): Promise<void> {
    await db.dataSource.query(
      `INSERT INTO wave_batches (wave_id, kind, batch_no, state, size, first_seq, last_seq, idempotency_key, completed_at)
       VALUES ($1, $2, $3, 'done', $4, 1, $4, $5, now() - ($6 || ' seconds')::interval)`,
      [id, kind, no, size, `${id}-${kind}-${no}`, String(secondsAgo)],
    );
  }

  it('reads counts, reasons, rate over the last minute and ETA from counters and batches', async () => {
    const id = await wave({ state: 'running', started_at: '20', gates: JSON.stringify([]) });
    await counters(id, {
      total: 100,
      pending: 40,
      in_flight: 10,
      enabled: 30,
      skipped: 20,
      'skipped:held': 5,
      'skipped:password_reset_required': 15,
    });
    await batch(id, 'forward', 30, 5, 1);
    await batch(id, 'forward', 10, 15, 2);
    await batch(id, 'forward', 500, 90, 3); // outside the minute
    await batch(id, 'rollback', 7, 3, 4); // not what a running wave sends
    const p = await service.wave(id);
    expect(p).toMatchObject({
      waveId: id,
      state: 'running',
      total: 100,
      counts: { pending: 40, in_flight: 10, enabled: 30, skipped: 20, failed: 0, cancelled: 0 },
      skipReasons: { held: 5, password_reset_required: 15 },
      done: 50,
      doneFraction: 0.5,
      rollback: null,
      statusText: 'running',
      step: { index: 0, count: 1, percent: 100, bakeUntil: null },
      gates: [],
    });
    // 40 accounts in the ~20 s since the start: 2/s, under the target of 10/s, so the ETA uses it (50 left).
    expect(p.rate.windowSeconds).toBeGreaterThanOrEqual(20);
    expect(p.rate.observedPerSecond).toBeCloseTo(2, 0);
    expect(p.rate.targetPerSecond).toBe(10);
    expect(p.rate.currentPerSecond).toBe(p.rate.observedPerSecond); // it sends: the observed rate is the current one
    // No Redis given and no capabilities read yet: the pace is unknown, and nothing is blamed.
    expect(p.pace).toEqual({
      factor: null,
      retryAfterSeconds: null,
      mailstoreRatePerSecond: null,
      capabilitiesReadAt: null,
      ceilingPerSecond: 10,
      slowReasons: [],
    });
    expect(p.etaSeconds).toBeGreaterThanOrEqual(25);
    expect(p.etaSeconds).toBeLessThanOrEqual(27);
    expect(p.etaAt!.getTime() - p.asOf.getTime()).toBe(p.etaSeconds! * 1000);
  });

  it('shows the gate evaluator verdicts and why a gate paused the wave', async () => {
    const gates = [
      {
        name: 'errors',
        metric: 'mailstore_error_rate',
        windowSeconds: 60,
        minSamples: 10,
        threshold: 0.05,
        action: 'pause',
      },
      {
        name: 'siem',
        metric: 'signal',
        signal: 'failed_logins',
        windowSeconds: 60,
        minSamples: 0,
        threshold: 100,
        action: 'halt',
      },
    ];
    const verdict = [
      {
        gate: 'errors',
        status: 'breached',
        value: 0.08,
        threshold: 0.05,
        reason: 'error rate 0.08 over 120 calls is above 0.05',
      },
    ];
    const id = await wave({
      state: 'paused',
      status_reason: 'gate:errors',
      status_detail: JSON.stringify({ gates: verdict }),
      gates: JSON.stringify(gates),
      gate_state: JSON.stringify(verdict),
      gate_evaluated_at: '2',
      started_at: '100',
    });
    await counters(id, { total: 5, pending: 5 });
    const p = await service.wave(id);
    expect(p.statusText).toBe('paused: gate errors breached (error rate 0.08 over 120 calls is above 0.05)');
    expect(p.etaSeconds).toBeNull(); // not moving
    expect(p.etaAt).toBeNull();
    expect(p.rate.currentPerSecond).toBeNull(); // paused: no current rate, whatever the last minute sent
    expect(p.gates).toEqual([
      expect.objectContaining({
        name: 'errors',
        unit: 'fraction', // 0.05 is 5 %: the page formats by unit
        status: 'breached',
        value: 0.08,
        threshold: 0.05,
        evaluatedAt: expect.any(Date),
      }),
      expect.objectContaining({
        name: 'siem',
        unit: 'number',
        status: 'not_evaluated',
        value: null,
        evaluatedAt: null,
        action: 'halt',
      }),
    ]);
  });

  it('reads rollback progress while rolling back, at the rollback rate', async () => {
    const id = await wave({ state: 'rolling_back', started_at: '600', rollback_started_at: '30' });
    await counters(id, {
      total: 10,
      enabled: 10,
      'rollback:total': 10,
      'rollback:pending': 4,
      'rollback:rolled_back': 6,
    });
    await batch(id, 'rollback', 6, 10, 1);
    const p = await service.wave(id);
    expect(p.rollback).toMatchObject({ total: 10, done: 6, counts: { pending: 4, rolled_back: 6 } });
    expect(p.rate.targetPerSecond).toBe(5);
    expect(p.rate.observedPerSecond).toBeCloseTo(0.2, 1);
    expect(p.etaSeconds).toBeGreaterThanOrEqual(20); // 4 left at the observed ~0.2/s
    expect(p.etaSeconds).toBeLessThanOrEqual(22);
  });

  it('lists active and recently finished waves, not drafts, with totals', async () => {
    const draft = await wave({});
    const overview = await service.overview();
    const ids = overview.waves.map((w) => w.waveId);
    expect(ids).not.toContain(draft);
    expect(overview.totals.waves).toMatchObject({ running: 1, paused: 1, rolling_back: 1 });
    expect(overview.totals.members).toMatchObject({ enabled: 40, pending: 45 });
  });

  it('shows no current rate and no ETA time for a finished wave (etaSeconds stays 0: nothing left)', async () => {
    const id = await wave({ state: 'completed', started_at: '50', completed_at: '5' });
    await counters(id, { total: 20, enabled: 20 });
    await batch(id, 'forward', 20, 10, 1); // sent within the minute
    const p = await service.wave(id);
    expect(p.rate.observedPerSecond).toBeGreaterThan(0);
    expect(p).toMatchObject({ etaSeconds: 0, etaAt: null, rate: { currentPerSecond: null } });
  });

  it("measures a finished wave's rate over its own last minute: the view stops changing when the wave ends", async () => {
    const id = await wave({ state: 'completed', started_at: '80', completed_at: '5' });
    await counters(id, { total: 27, enabled: 27 });
    await batch(id, 'forward', 20, 10, 1);
    await batch(id, 'forward', 7, 62, 2); // over a minute ago, within the minute before the wave completed
    const first = await service.wave(id);
    expect(first.rate).toEqual({
      observedPerSecond: 0.45,
      currentPerSecond: null,
      targetPerSecond: 10,
      windowSeconds: 60,
    });
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const later = await service.wave(id);
    expect(later.rate).toEqual(first.rate);
    expect({ ...later, asOf: null }).toEqual({ ...first, asOf: null });

    // A wave completed 20 s after its start: its window is those 20 s, not the time since.
    const short = await wave({ state: 'completed', started_at: '30', completed_at: '10' });
    await counters(short, { total: 30, enabled: 30 });
    await batch(short, 'forward', 30, 12, 1);
    expect((await service.wave(short)).rate).toMatchObject({ observedPerSecond: 1.5, windowSeconds: 20 });
  });

  describe('why a wave is slow: the shared pace in Redis and the mailstore capabilities', () => {
    let redis: TestRedis;
    let paced: ProgressService;
    beforeAll(async () => {
      redis = await createTestRedis('progress-pace');
      paced = new ProgressService(db.dataSource, undefined, undefined, new PaceRepository(redis.client, redis.prefix));
    });
    afterAll(async () => {
      await capabilities(null);
      await redis?.cleanup();
    });

    it('names the Retry-After wait, the reduced pace and the mailstore rate limit, with the ceiling they leave', async () => {
      const id = await wave({ state: 'running', started_at: '30', rate_per_second: 100 });
      await counters(id, { total: 1000, pending: 1000 });
      await capabilities(50);
      // What the engine does on a 429 with Retry-After: 3 s (libs/core Throttle, the worker's own code path).
      const factor = await new Throttle(redis.client, redis.prefix).penalize(3000);
      expect(factor).toBe(0.5);
      const p = await paced.wave(id);
      expect(p.pace).toMatchObject({
        factor: 0.5,
        mailstoreRatePerSecond: 50,
        capabilitiesReadAt: expect.any(Date),
        ceilingPerSecond: 25, // min(100, 50) × 0.5
        slowReasons: ['retry_after', 'pace_after_errors', 'mailstore_rate_limit'],
      });
      expect(p.pace.retryAfterSeconds).toBeGreaterThanOrEqual(1);
      expect(p.pace.retryAfterSeconds).toBeLessThanOrEqual(3);
      // The overview reads the same pace (once for every wave).
      const inOverview = (await paced.overview()).waves.find((w) => w.waveId === id);
      expect(inOverview?.pace.slowReasons).toEqual(p.pace.slowReasons);
    });

    it('blames nothing for a wave that does not send, and reads as unknown when Redis is gone', async () => {
      const id = await wave({ state: 'halted', started_at: '30', rate_per_second: 100 });
      expect((await paced.wave(id)).pace).toMatchObject({ ceilingPerSecond: null, slowReasons: [] });
      const unconnected = new Redis(redis.url, { lazyConnect: true });
      try {
        const gone = new ProgressService(
          db.dataSource,
          undefined,
          undefined,
          new PaceRepository(unconnected, redis.prefix),
        );
        expect((await gone.wave(id)).pace).toMatchObject({ factor: null, retryAfterSeconds: null });
      } finally {
        unconnected.disconnect();
      }
    });
  });

  describe('history: the rate over the whole run from the per-batch rows', () => {
    it('buckets what each lane sent since the first start, empty buckets at 0', async () => {
      const id = await wave({ state: 'rolling_back', started_at: '40', rollback_started_at: '12' });
      await batch(id, 'forward', 50, 38, 1); // bucket 0 (0–5 s after the start)
      await batch(id, 'forward', 25, 37, 2); // bucket 0
      await batch(id, 'forward', 100, 26, 3); // bucket 2 (10–15 s)
      await batch(id, 'rollback', 40, 8, 4); // bucket 6 (30–35 s)
      const h = await service.history(id);
      expect(h.bucketSeconds).toBe(5);
      // 40 s in 5 s buckets (a ninth, a few ms old, when the read comes a little later than the rows)
      expect(h.samples.length === 8 || h.samples.length === 9).toBe(true);
      expect(h.samples.slice(0, 8).map((s) => [s.forwardPerSecond, s.rollbackPerSecond])).toEqual([
        [15, 0],
        [0, 0],
        [20, 0],
        [0, 0],
        [0, 0],
        [0, 0],
        [0, 8],
        [0, 0],
      ]);
      expect(h.samples[2].at.getTime() - h.from!.getTime()).toBe(10_000);
    });

    it('ends a finished wave at its last batch, and gives a wave that never started no samples', async () => {
      const done = await wave({ state: 'completed', started_at: '3600', completed_at: '3000' });
      await batch(done, 'forward', 600, 3001, 1);
      const h = await service.history(done);
      // Its end: completed 600 s after the start (a second after its last batch), an hour ago, not now.
      expect(h.to!.getTime() - h.from!.getTime()).toBeGreaterThanOrEqual(599_000);
      expect(h.to!.getTime() - h.from!.getTime()).toBeLessThanOrEqual(601_000);
      expect(h.bucketSeconds).toBe(10); // 600 s in 5 s buckets would be 121 with the end's own
      expect(h.samples).toHaveLength(61);
      expect(h.samples.reduce((n, s) => n + s.forwardPerSecond * h.bucketSeconds, 0)).toBeCloseTo(600, 0);
      const draft = await wave({});
      expect(await service.history(draft)).toMatchObject({ from: null, to: null, samples: [] });
      await expect(service.history('00000000-0000-4000-8000-000000000000')).rejects.toBeInstanceOf(NotFoundError);
    });
  });

  it('refuses an unknown or malformed id with a NotFoundError', async () => {
    await expect(service.wave('00000000-0000-4000-8000-000000000000')).rejects.toBeInstanceOf(NotFoundError);
    await expect(service.wave("x' OR 1=1")).rejects.toMatchObject({ code: 'wave_not_found', kind: 'not_found' });
  });
});
