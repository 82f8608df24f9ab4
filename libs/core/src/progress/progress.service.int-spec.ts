import { createTestDatabase, TestDatabase } from '@app/testing';
import { SqlParams } from '../db/sql-params';
import { NotFoundError } from '../errors';
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

  async function wave(fields: Record<string, unknown>): Promise<string> {
    const columns = Object.keys(fields);
    const p = new SqlParams();
    const values = columns.map((c) =>
      /_at$|_until$/.test(c) ? `now() - (${p.add(fields[c])} || ' seconds')::interval` : p.add(fields[c]),
    );
    const [row] = await db.dataSource.query<{ id: string }[]>(
      `INSERT INTO waves (name, selector, protocols, rate_per_second, rollback_rate_per_second, batch_size, created_by
                         ${columns.map((c) => `, ${c}`).join('')})
       VALUES ('w', '{"type":"remaining"}', '{imap}', 10, 5, 100, 'test' ${values.map((v) => `, ${v}`).join('')})
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
    expect(p.gates).toEqual([
      expect.objectContaining({
        name: 'errors',
        status: 'breached',
        value: 0.08,
        threshold: 0.05,
        evaluatedAt: expect.any(Date),
      }),
      expect.objectContaining({
        name: 'siem',
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

  it('refuses an unknown or malformed id with a NotFoundError', async () => {
    await expect(service.wave('00000000-0000-4000-8000-000000000000')).rejects.toBeInstanceOf(NotFoundError);
    await expect(service.wave("x' OR 1=1")).rejects.toMatchObject({ code: 'wave_not_found', kind: 'not_found' });
  });
});
