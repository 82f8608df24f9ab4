import { DateTime } from 'luxon';
import type { WavePreview, WaveProgress } from '@app/core';
import { pollUntil, populationCsv } from '@app/testing';
import { ApiHarness, startApiHarness } from './api-harness';

const ACCOUNTS = 400;

/** Time windows through the HTTP API only (docs/windows.md): refused plans, the preview, a blackout crossed. */
describe('a wave with time windows, through the HTTP API (real PostgreSQL, Redis, worker, simulator)', () => {
  let api: ApiHarness;

  beforeAll(async () => {
    api = await startApiHarness('windows', { accounts: ACCOUNTS, worker: true });
    const csv = [...populationCsv({ count: ACCOUNTS, seed: 11, leakedShare: 0 })].join('');
    const imported = await api.call('POST', '/accounts/import', { raw: csv, headers: { 'content-type': 'text/csv' } });
    expect(imported.status).toBe(200);
  });
  afterAll(async () => {
    await api?.close();
  });

  const plan = (windows: unknown) => ({
    name: 'windowed',
    selector: { type: 'remaining' },
    protocols: ['imap'],
    ratePerSecond: 40,
    windows,
  });
  const waves = async () =>
    (await api.h.db.dataSource.query<{ n: number }[]>(`SELECT count(*)::int AS n FROM waves`))[0].n;

  it.each([
    [
      'an unknown zone',
      { timeZone: 'Europe/Atlantis', allowed: [{ days: ['mon'], start: '08:00', end: '20:00' }] },
      'windows.timeZone',
    ],
    [
      'an end equal to the start',
      { timeZone: 'Europe/Paris', allowed: [{ days: ['mon'], start: '08:00', end: '08:00' }] },
      'windows.allowed[0].end',
    ],
    [
      'a day that is not one',
      { timeZone: 'Europe/Paris', allowed: [{ days: ['someday'], start: '08:00', end: '20:00' }] },
      'windows.allowed[0].days',
    ],
    [
      'overlapping ranges',
      {
        timeZone: 'Europe/Paris',
        allowed: [
          { days: ['mon', 'tue'], start: '08:00', end: '20:00' },
          { days: ['tue'], start: '19:00', end: '22:00' },
        ],
      },
      'windows.allowed[1]',
    ],
    [
      'a blackout ending before it starts',
      { timeZone: 'UTC', blackouts: [{ start: '2026-05-14T12:00', end: '2026-05-14T11:00' }] },
      'windows.blackouts[0].end',
    ],
    [
      'a blackout in the spring-forward gap',
      { timeZone: 'Europe/Paris', blackouts: [{ start: '2026-03-29T02:30', end: '2026-03-29T05:00' }] },
      'windows.blackouts[0].start',
    ],
  ])('refuses %s with a 400 naming the field, and writes nothing', async (_name, windows, field) => {
    const before = await waves();
    const res = await api.call('POST', '/waves', { body: plan(windows) });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toBe('application/problem+json; charset=utf-8');
    expect((res.body.errors as { field: string }[]).map((e) => e.field)).toContain(field);
    expect(await waves()).toBe(before);
  });

  it('previews the end through the windows, pauses in a blackout with an ETA, resumes by itself, audits both', async () => {
    const base = Math.ceil(Date.now() / 1000) * 1000;
    const [start, end] = [base + 4000, base + 10_000];
    const utc = (ms: number) => DateTime.fromMillis(ms, { zone: 'UTC' }).toFormat("yyyy-MM-dd'T'HH:mm:ss");
    const windows = { timeZone: 'UTC', blackouts: [{ start: utc(start), end: utc(end), reason: 'deploy freeze' }] };
    const created = await api.call('POST', '/waves', { body: plan(windows) });
    expect(created.status).toBe(201);
    expect(created.body.windows).toEqual(windows);
    const id: string = created.body.id;

    // A change of windows is refused as a create is, and changes nothing.
    const bad = await api.call('PATCH', `/waves/${id}`, { body: { windows: { timeZone: 'Nowhere/Land' } } });
    expect(bad.status).toBe(400);
    expect((bad.body.errors as { field: string }[]).map((e) => e.field)).toEqual(['windows.timeZone']);
    expect((await api.call('GET', `/waves/${id}`)).body.windows).toEqual(windows);

    const preview = (await api.call<WavePreview>('GET', `/waves/${id}/preview`)).body;
    expect(preview.windowed).not.toBeNull();
    // 400 accounts at 40/s: 10 s of sending, and the blackout (6 s) falls inside them.
    expect(preview.windowed!.totalSeconds!).toBeGreaterThan(preview.projectedDuration.totalSeconds);
    expect(Date.parse(String(preview.windowed!.projectedEndAt))).toBeGreaterThan(end);

    expect((await api.call('POST', `/waves/${id}/start`)).status).toBe(200);
    const waiting = await pollUntil(
      async () => {
        const p = (await api.call<WaveProgress>('GET', `/waves/${id}/progress`, { key: 'viewer' })).body;
        return p.statusReason === 'outside_window' ? p : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 200, description: 'paused outside its window' },
    );
    expect(waiting.state).toBe('paused');
    expect(waiting.statusText).toContain(`waiting for its time window, which opens at ${new Date(end).toISOString()}`);
    expect(waiting.etaSeconds).not.toBeNull();
    expect(Date.parse(String(waiting.etaAt))).toBeGreaterThan(end);

    await pollUntil(
      async () =>
        (await api.call<WaveProgress>('GET', `/waves/${id}/progress`, { key: 'viewer' })).body.state === 'completed',
      { timeoutMs: 60_000, intervalMs: 250, description: 'completed after the blackout' },
    );
    const audit = await api.call<{ items: { action: string; actor: string }[] }>(
      'GET',
      `/audit?waveId=${id}&action=wave.window_*`,
    );
    expect(audit.status).toBe(200);
    expect(audit.body.items.map((e) => [e.action, e.actor])).toEqual([
      ['wave.window_opened', 'windows'],
      ['wave.window_closed', 'windows'],
    ]);
    const calls = api.h.batchCalls(id);
    expect(calls.filter((c) => c.startedAt >= start && c.startedAt < end)).toEqual([]);
  });
});
