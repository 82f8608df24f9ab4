import { DateTime } from 'luxon';
import type { ProgressOverview, WavePreview, WaveProgress } from '@app/core';
import { countersFromTruth, pollUntil, populationCsv } from '@app/testing';
import { ApiHarness, startApiHarness } from './api-harness';
import { SseReader } from './sse-reader';

const ACCOUNTS = 2000;

describe('a wave driven only through the HTTP API (real PostgreSQL, Redis, worker, simulator)', () => {
  let api: ApiHarness;
  const ops = () => `ops:${api.keyNames.ops}`;

  beforeAll(async () => {
    // The gate evaluator runs often enough to judge the first wave while it runs (it lasts about a second).
    api = await startApiHarness('flow', { accounts: ACCOUNTS, worker: true, engineEnv: { GATE_INTERVAL_MS: '100' } });
  });
  afterAll(async () => {
    await api?.close();
  });

  // Dates arrive as strings: the tests never use them as dates.
  const progress = async (id: string) =>
    (await api.call<WaveProgress>('GET', `/waves/${id}/progress`, { key: 'viewer' })).body;
  const waitFor = (id: string, state: string, timeoutMs = 60_000) =>
    pollUntil(
      async () => {
        const p = await progress(id);
        return p.state === state ? p : undefined;
      },
      { timeoutMs, intervalMs: 250, description: `wave ${id} ${state}` },
    );

  it('imports, creates, previews, schedules, runs to completion and rolls back', async () => {
    const csv = [...populationCsv({ count: ACCOUNTS, seed: 7 })].join('');
    const imported = await api.call('POST', '/accounts/import', { raw: csv, headers: { 'content-type': 'text/csv' } });
    expect(imported.status).toBe(200);
    expect(imported.body).toMatchObject({ status: 'imported', lines: ACCOUNTS, inserted: ACCOUNTS, rejected: 0 });

    const created = await api.call('POST', '/waves', {
      body: {
        name: 'everyone, ramped',
        selector: { type: 'cohorts', cohorts: ['general', 'health'] },
        protocols: ['imap', 'pop3'],
        // About a second of running on an idle machine: long enough for the gate evaluator to judge it.
        ratePerSecond: 2_000,
        batchSize: 200,
        steps: [
          { percent: 10, bakeSeconds: 1 },
          { percent: 100, bakeSeconds: 0 },
        ],
        gates: [
          {
            name: 'provider-errors',
            metric: 'mailstore_error_rate',
            windowSeconds: 60,
            minSamples: 5,
            threshold: 0.5,
            action: 'pause',
          },
        ],
      },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ state: 'draft', createdBy: ops(), memberCount: null });
    const id: string = created.body.id;

    const preview = await api.call<WavePreview>('GET', `/waves/${id}/preview`);
    expect(preview.status).toBe(200);
    const [truth] = await api.h.db.dataSource.query<{ unreset: number }[]>(
      `SELECT count(*) FILTER (WHERE leaked AND (password_changed_at IS NULL OR password_changed_at <= $1))::int AS unreset
         FROM accounts`,
      [api.h.config.INCIDENT_AT],
    );
    expect(preview.body).toMatchObject({
      scope: 'selector',
      members: ACCOUNTS,
      eligible: ACCOUNTS - truth.unreset,
      skips: { held: 0, password_reset_required: truth.unreset, not_found: 0, already_enabled: 0 },
      projectedDuration: { bakeSeconds: 1 },
    });
    expect(preview.body.steps.map((s) => s.memberLimit)).toEqual([ACCOUNTS / 10, ACCOUNTS]);
    // A dry run never touches the mailstore (the worker only read its capabilities at start).
    expect(api.h.sim.calls().filter((c) => c.endpoint !== 'capabilities')).toEqual([]);

    // Scheduled three seconds ahead, in Paris wall-clock time: the schedule fires by itself.
    const startLocal = DateTime.now().setZone('Europe/Paris').plus({ seconds: 3 }).toFormat("yyyy-MM-dd'T'HH:mm:ss");
    const patched = await api.call('PATCH', `/waves/${id}`, { body: { startLocal, timeZone: 'Europe/Paris' } });
    expect(patched.status).toBe(200);
    const scheduled = await api.call('POST', `/waves/${id}/schedule`);
    expect(scheduled.status).toBe(200);
    expect(scheduled.body).toEqual({ id, from: 'draft', state: 'scheduled', noop: false });
    expect((await progress(id)).statusText).toMatch(/^scheduled to start at /);

    const done = await waitFor(id, 'completed');
    expect(done).toMatchObject({
      total: ACCOUNTS,
      done: ACCOUNTS,
      doneFraction: 1,
      etaSeconds: 0,
      counts: { pending: 0, in_flight: 0, enabled: preview.body.eligible, failed: 0, cancelled: 0 },
      skipReasons: { password_reset_required: truth.unreset },
      step: { index: 1, count: 2, percent: 100, memberLimit: ACCOUNTS },
    });
    // The worker's evaluator judged the gate while the wave ran (too few calls in a second to decide, or fine).
    expect(done.gates).toEqual([
      expect.objectContaining({
        name: 'provider-errors',
        threshold: 0.5,
        status: expect.stringMatching(/^(ok|insufficient_data)$/),
      }),
    ]);
    expect(await api.h.counters(id)).toEqual(await countersFromTruth(api.h.db, id));

    // Conditional GET: an unchanged view is a 304 without a body.
    const first = await api.call('GET', `/waves/${id}/progress`, { key: 'viewer' });
    expect(first.headers.get('cache-control')).toBe('no-store');
    const etag = first.headers.get('etag')!;
    expect(etag).toMatch(/^W\/".+"$/);
    const again = await api.call('GET', `/waves/${id}/progress`, {
      key: 'viewer',
      headers: { 'if-none-match': etag },
    });
    expect([again.status, again.text]).toEqual([304, '']);
    const overview = await api.call<ProgressOverview>('GET', '/progress', { key: 'support' });
    expect(overview.body.waves.map((w) => w.waveId)).toContain(id);

    const rollback = await api.call('POST', `/waves/${id}/rollback`);
    expect(rollback.body).toEqual({ id, from: 'completed', state: 'rolling_back', noop: false });
    const rolledBack = await waitFor(id, 'rolled_back');
    expect(rolledBack.rollback).toMatchObject({ total: preview.body.eligible, done: preview.body.eligible });
    expect(rolledBack.rollback!.counts.rolled_back).toBe(preview.body.eligible);
    const [sample] = await api.h.db.dataSource.query<{ login: string }[]>(
      `SELECT a.login FROM wave_members m JOIN accounts a ON a.id = m.account_id
        WHERE m.wave_id = $1 AND m.state = 'enabled' LIMIT 1`,
      [id],
    );
    expect(api.h.sim.account(sample.login)?.protocols).toEqual({ imap: false, pop3: false });

    // The audit log names the key behind every command; keyset pages walk it newest first.
    const actions: { action: string; actor: string }[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: { items: { action: string; actor: string }[]; nextCursor: string | null } } = await api.call(
        'GET',
        `/audit?waveId=${id}&action=wave.*&limit=3${cursor ? `&cursor=${cursor}` : ''}`,
      );
      actions.push(...page.body.items);
      cursor = page.body.nextCursor;
    } while (cursor);
    const byAction = Object.fromEntries(actions.map((a) => [a.action, a.actor]));
    expect(byAction).toMatchObject({
      'wave.created': ops(),
      'wave.updated': ops(),
      'wave.schedule': ops(),
      'wave.rollback': ops(),
      'wave.complete': 'engine',
    });
    expect(actions[0].action).toBe('wave.rollback_complete');
  });

  // The tests below need the accounts: an unchanged re-import after the first test, an import when run alone.
  const ensureAccounts = () => api.h.importPopulation({ count: ACCOUNTS, seed: 7 });

  it('streams progress and state changes over Server-Sent Events', async () => {
    await ensureAccounts();
    const wave = await api.call('POST', '/waves', {
      body: {
        name: 'sse',
        selector: { type: 'logins', logins: Array.from({ length: 60 }, (_, i) => `user${i + 1}@example.test`) },
        protocols: ['pop3'],
        ratePerSecond: 1000,
        batchSize: 10,
      },
    });
    const id: string = wave.body.id;
    const sse = await new SseReader().open(`${api.api.origin}/api/v1/waves/${id}/events`, {
      authorization: `Bearer ${api.secrets.viewer}`,
    });
    try {
      expect([sse.status, sse.contentType]).toEqual([200, 'text/event-stream; charset=utf-8']);
      const initial = await sse.next((e) => e.event === 'progress');
      expect(initial.data).toMatchObject({ waveId: id, state: 'draft' });
      expect(initial.id).toMatch(/^W\/"/);
      expect((await api.call('POST', `/waves/${id}/start`)).status).toBe(200);
      const left = await sse.next((e) => e.event === 'state' && e.data.from === 'draft');
      expect(left.data.to).toMatch(/^(running|completed)$/);
      const last = await sse.next((e) => e.event === 'progress' && e.data.state === 'completed');
      expect(last.data.done).toBe(60);
    } finally {
      sse.close();
    }

    // Support undoes the wave on one account: its exact prior state comes back, once, counted on the wave.
    const [member] = await api.h.db.dataSource.query<{ login: string }[]>(
      `SELECT a.login FROM wave_members m JOIN accounts a ON a.id = m.account_id
        WHERE m.wave_id = $1 AND m.state = 'enabled' ORDER BY m.seq LIMIT 1`,
      [id],
    );
    expect(api.h.sim.account(member.login)?.protocols.pop3).toBe(true);
    const undo = { waveId: id, reason: 'practice asked to wait', ticket: 'SUP-90' };
    const requested = await api.call('POST', `/accounts/${member.login}/rollback`, { key: 'support', body: undo });
    expect(requested.status).toBe(202);
    expect(requested.body).toMatchObject({
      login: member.login,
      kind: 'rollback',
      protocols: ['pop3'],
      state: 'queued',
    });
    await pollUntil(
      async () =>
        (await api.call('GET', `/operations/${requested.body.id}`, { key: 'support' })).body.state === 'succeeded',
      { timeoutMs: 20_000, description: 'rollback operation succeeded' },
    );
    expect(api.h.sim.account(member.login)?.protocols).toEqual({ imap: false, pop3: false });
    const again = await api.call('POST', `/accounts/${member.login}/rollback`, { key: 'support', body: undo });
    expect([again.status, again.body.code]).toEqual([409, 'nothing_to_roll_back']);
    const bad = await api.call('POST', `/accounts/${member.login}/rollback`, {
      key: 'support',
      body: { ...undo, waveId: 'not-a-uuid' },
    });
    expect(bad.status).toBe(400);
    expect(bad.text).toMatch(/waveId/);
    // Progress views are shared reads refreshed in the background: the change shows on a later poll.
    await pollUntil(async () => (await progress(id)).rollback?.counts.rolled_back === 1, {
      timeoutMs: 10_000,
      description: 'the rollback counted in the progress view',
    });
  });

  it('refuses to schedule a start long past (409 start_passed naming startLocal): it would start at once', async () => {
    const startLocal = DateTime.now().setZone('Europe/Paris').minus({ days: 3 }).toFormat("yyyy-MM-dd'T'HH:mm");
    const wave = await api.call('POST', '/waves', {
      body: {
        name: 'stale plan',
        selector: { type: 'remaining' },
        protocols: ['imap'],
        ratePerSecond: 5,
        startLocal,
        timeZone: 'Europe/Paris',
      },
    });
    expect(wave.status).toBe(201);
    const refused = await api.call('POST', `/waves/${wave.body.id}/schedule`);
    expect(refused.status).toBe(409);
    expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(refused.body).toMatchObject({ code: 'start_passed', field: 'startLocal' });
    expect(refused.body.detail).toMatch(/passed 3 days ago.*set a new startLocal \(PATCH\), or start it now/);
    expect((await api.call('GET', `/waves/${wave.body.id}`)).body.state).toBe('draft');
  });

  it('lets one of two simultaneous starts win; the other gets 409 with the current state', async () => {
    await ensureAccounts();
    const wave = await api.call('POST', '/waves', {
      body: {
        name: 'race',
        selector: { type: 'cohorts', cohorts: ['health'] },
        protocols: ['imap'],
        // Slow enough (51 eligible accounts: ~10 s) to be still running at the rate change, the pause and the cancel.
        ratePerSecond: 5,
      },
    });
    const id: string = wave.body.id;
    const answers = await Promise.all([1, 2].map(() => api.call('POST', `/waves/${id}/start`)));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 409]);
    const refused = answers.find((a) => a.status === 409)!;
    expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(refused.body).toMatchObject({ code: 'illegal_transition', currentState: 'running', command: 'start' });
    // What a person can send, not the engine's own commands (halt, complete, step_pause, gate_pause …).
    expect(refused.body.allowed).toEqual(['pause', 'cancel', 'rollback']);
    const [starts] = await api.h.db.dataSource.query<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM audit_log WHERE wave_id = $1 AND action = 'wave.start'`,
      [id],
    );
    expect(starts.n).toBe(1);

    // Live changes while it runs: rate (read by the pumps before every batch), then pause, resume, cancel.
    const faster = await api.call('PATCH', `/waves/${id}`, { body: { ratePerSecond: 8, batchSize: 5 } });
    expect(faster.status).toBe(200);
    expect(faster.body).toMatchObject({ ratePerSecond: 8, batchSize: 5, state: 'running' });
    expect((await api.call('POST', `/waves/${id}/pause`)).body.state).toBe('paused');
    const paused = await pollUntil(async () => {
      const p = await progress(id);
      return p.state === 'paused' && p.rate.targetPerSecond === 8 ? p : undefined;
    });
    expect(paused).toMatchObject({ statusReason: 'ops', etaSeconds: null, gates: [] });
    expect(paused.statusText).toMatch(/^paused by ops/);
    expect((await api.call('POST', `/waves/${id}/resume`)).body.state).toBe('running');
    expect((await api.call('POST', `/waves/${id}/cancel`)).body.state).toBe('cancelled');
    const cancelled = await waitFor(id, 'cancelled');
    expect(cancelled.counts.pending).toBe(0);
    expect(cancelled.counts.cancelled).toBeGreaterThan(0);
    const late = await api.call('POST', `/waves/${id}/resume`);
    expect(late.status).toBe(409);
    expect(late.body).toMatchObject({ code: 'illegal_transition', currentState: 'cancelled', allowed: ['rollback'] });

    // Listing: by state, and page by page (newest first) with the opaque cursor.
    type Page = { items: { id: string; state: string }[]; nextCursor: string | null };
    const cancelledOnes = await api.call<Page>('GET', '/waves?state=cancelled', { key: 'viewer' });
    expect(cancelledOnes.body.items.map((w) => [w.id, w.state])).toEqual([[id, 'cancelled']]);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: Page } = await api.call<Page>('GET', `/waves?limit=1${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...page.body.items.map((w) => w.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    const [all] = await api.h.db.dataSource.query<{ ids: string[] }[]>(
      `SELECT array_agg(id::text ORDER BY created_at DESC) AS ids FROM waves`,
    );
    expect(seen).toEqual(all.ids);
  });

  it('serves the support lane, signals, metrics and readiness over the same API', async () => {
    // Its own accounts (the same lines as the first test's import: an unchanged re-import when run after it).
    const csv = [...populationCsv({ count: 50, seed: 7 })].join('');
    expect(
      (await api.call('POST', '/accounts/import', { raw: csv, headers: { 'content-type': 'text/csv' } })).status,
    ).toBe(200);
    const [{ login }] = await api.h.db.dataSource.query<{ login: string }[]>(
      `SELECT login FROM accounts WHERE leaked AND password_changed_at IS NULL AND login = ANY($1) LIMIT 1`,
      [Array.from({ length: 50 }, (_, i) => `user${i + 1}@example.test`)],
    );
    const support = `support:${api.keyNames.support}`;
    const before = await api.call('GET', `/accounts/${login}`, { key: 'support' });
    expect(before.body.eligibility).toEqual({ eligible: false, reason: 'password_reset_required' });

    const enableBody = { protocols: ['imap'], reason: 'practice software cannot bill', ticket: 'SUP-77' };
    // Opening an account waves hold back is an explicit request: without override, 409 naming the field.
    const refused = await api.call('POST', `/accounts/${encodeURIComponent(login)}/enable`, {
      key: 'support',
      body: enableBody,
    });
    expect(refused.status).toBe(409);
    expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(refused.body).toMatchObject({
      code: 'override_required',
      field: 'override',
      errors: [{ field: 'override' }],
    });
    const requested = await api.call('POST', `/accounts/${encodeURIComponent(login.toUpperCase())}/enable`, {
      key: 'support',
      body: { ...enableBody, override: true },
    });
    expect(requested.status).toBe(202);
    expect(requested.body).toMatchObject({
      login,
      kind: 'enable',
      protocols: ['imap'],
      state: 'queued',
      actor: support,
      overrides: ['password_reset_required'],
      overrideExpiresAt: expect.any(String),
    });
    const listed = await api.call('GET', '/overrides', { key: 'ops' });
    expect(listed.status).toBe(200);
    expect(listed.body.items).toEqual([
      expect.objectContaining({ login, ticket: 'SUP-77', by: support, expiresAt: requested.body.overrideExpiresAt }),
    ]);
    expect((await api.call('GET', `/accounts/${login}`, { key: 'support' })).body.override).toMatchObject({
      ticket: 'SUP-77',
      expiresAt: requested.body.overrideExpiresAt,
    });
    const op = await pollUntil(
      async () => {
        const r = await api.call<{ state: string; outcome: string }>('GET', `/operations/${requested.body.id}`, {
          key: 'support',
        });
        return r.body.state === 'succeeded' ? r.body : undefined;
      },
      { timeoutMs: 20_000, description: 'operation succeeded' },
    );
    expect(op.outcome).toBe('applied');
    expect(api.h.sim.account(login)?.protocols.imap).toBe(true);

    const held = await api.call('POST', `/accounts/${login}/hold`, {
      key: 'support',
      body: { reason: 'fraud check', ticket: 'SUP-78' },
    });
    expect(held.body).toMatchObject({
      held: true,
      hold: { reason: 'fraud check', ticket: 'SUP-78', by: support },
      eligibility: { eligible: false, reason: 'held' },
      access: { imap: true, pop3: false },
      // A hold ends the support override of the leaked password (it does not come back with the unhold).
      override: null,
    });
    const released = await api.call('DELETE', `/accounts/${login}/hold`, {
      key: 'support',
      body: { reason: 'cleared', ticket: 'SUP-78' },
    });
    expect(released.body).toMatchObject({
      held: false,
      hold: null,
      override: null,
      eligibility: { eligible: false, reason: 'password_reset_required' },
    });
    expect(released.body.operations[0]).toMatchObject({ id: requested.body.id, state: 'succeeded' });
    const history = (released.body.history as { action: string; actor: string; ticket: string | null }[]).map(
      (e) => `${e.action} ${e.actor} ${e.ticket}`,
    );
    expect(history).toEqual(
      expect.arrayContaining([
        `support.enable_requested ${support} SUP-77`,
        `support.enabled ${support} SUP-77`,
        `support.hold ${support} SUP-78`,
        `support.unhold ${support} SUP-78`,
      ]),
    );

    const signal = await api.call('POST', '/signals', {
      key: 'signals',
      body: {
        name: 'failed_logins',
        value: 4,
        windowSeconds: 60,
        observedAt: new Date().toISOString(),
        cohort: 'health',
      },
    });
    expect(signal.status).toBe(201);
    expect(signal.body).toMatchObject({
      name: 'failed_logins',
      cohort: 'health',
      source: `signals:${api.keyNames.signals}`,
    });

    const metrics = await api.call('GET', '/metrics', { key: 'viewer' });
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    for (const series of [
      /^reopen_wave_members\{wave_id="[^"]+",wave="everyone, ramped",state="enabled"\} \d+$/m,
      /^reopen_wave_state\{[^}]*state="rolled_back"\} 1$/m,
      /^reopen_wave_rate_per_second\{[^}]*kind="target"\} \d+/m,
      /^reopen_queue_jobs\{queue="waves",state="waiting"\} \d+$/m,
      /^reopen_api_signals_received_total 1$/m,
      /^reopen_api_dependency_up\{dependency="mailstore"\} 1$/m,
    ]) {
      expect(metrics.text).toMatch(series);
    }
    // A finished wave sends nothing: its observed rate reads 0 (its progress view keeps its last minute's figure).
    const finished = [
      ...metrics.text.matchAll(
        /^reopen_wave_state\{wave_id="([^"]+)",[^}]*state="(completed|cancelled|rolled_back)"\} 1$/gm,
      ),
    ].map((m) => m[1]);
    expect(finished.length).toBeGreaterThan(0);
    for (const id of finished) {
      expect(metrics.text).toMatch(
        new RegExp(`^reopen_wave_rate_per_second\\{wave_id="${id}",[^}]*kind="observed"\\} 0$`, 'm'),
      );
    }
    // The mailstore's calls are the worker's to count (its own /metrics: worker-metrics.e2e-spec.ts), not rebuilt here.
    expect(metrics.text).not.toMatch(/^reopen_mailstore_call/m);

    const ready = await api.call('GET', '/health/ready', { key: null });
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({
      status: 'ok',
      details: { database: { status: 'up' }, redis: { status: 'up' } },
    });
    const dependencies = await api.call('GET', '/health/dependencies', { key: null });
    expect(dependencies.status).toBe(200);
    expect(dependencies.body).toEqual({
      status: 'ok',
      dependencies: {
        database: { status: 'up', neededForReady: true },
        redis: { status: 'up', neededForReady: true },
        mailstore: { status: 'up', neededForReady: false },
        workers: { status: 'up', neededForReady: false },
      },
    });
  });
});
