import { DateTime } from 'luxon';
import { ApiHarness, startApiHarness } from './api-harness';

/*
 * Two-person approval through the HTTP API (docs/approvals.md), with two ops keys: the deployment asks a second key
 * for a rate above 100/s and for a support override; the wave asks one for its schedule. No worker: the scheduled wave stays scheduled.
 */
describe('two-person approval over HTTP (two ops keys)', () => {
  let api: ApiHarness;
  beforeAll(async () => {
    api = await startApiHarness('approvals', {
      accounts: 60,
      env: { APPROVAL_REQUIRED_FOR: 'raise_rate,support_override', APPROVAL_RATE_BOUND: '100', APPROVAL_TTL_S: '600' },
    });
    await api.h.importPopulation({ count: 60, seed: 4 });
  });
  afterAll(async () => {
    await api?.close();
  });

  const startLocal = DateTime.now().setZone('Europe/Paris').plus({ days: 3 }).toFormat("yyyy-MM-dd'T'HH:mm");

  it('schedule: 409 approval_required, the requester refused, a second ops key approves, then it is scheduled', async () => {
    const created = await api.call('POST', '/waves', {
      body: {
        name: 'guarded',
        selector: { type: 'cohorts', cohorts: ['general'] },
        protocols: ['imap'],
        ratePerSecond: 50,
        startLocal,
        timeZone: 'Europe/Paris',
        approvalPolicy: { require: ['start'] },
      },
    });
    expect(created.status).toBe(201);
    expect(created.body.approvalPolicy).toEqual({ require: ['start'], rateBound: null });
    const id = created.body.id as string;

    const refused = await api.call('POST', `/waves/${id}/schedule`);
    expect(refused.status).toBe(409);
    expect(refused.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(refused.body).toMatchObject({ code: 'approval_required', rule: 'start', command: 'schedule', waveId: id });
    const approvalId = refused.body.approvalId as string;

    const listed = await api.call('GET', '/approvals', { key: 'viewer' });
    expect(listed.status).toBe(200);
    const mine = (listed.body as { id: string; counts: { eligible: number } }[]).find((a) => a.id === approvalId);
    const preview = await api.call('GET', `/waves/${id}/preview`);
    expect(mine?.counts.eligible).toBe(preview.body.eligible);

    const self = await api.call('POST', `/approvals/${approvalId}/approve`, { body: {} });
    expect(self.status).toBe(403);
    expect(self.body.code).toBe('self_approval');

    const given = await api.call('POST', `/approvals/${approvalId}/approve`, { key: 'ops2', body: { note: 'ok' } });
    expect(given.status).toBe(200);
    expect(given.body).toMatchObject({ state: 'approved', decidedBy: `ops:${api.keyNames.ops2}` });

    const scheduled = await api.call('POST', `/waves/${id}/schedule`);
    expect(scheduled.status).toBe(200);
    expect(scheduled.body).toMatchObject({ from: 'draft', state: 'scheduled' });
    expect((await api.call('GET', `/approvals/${approvalId}`)).body).toMatchObject({
      state: 'executed',
      current: null,
    });

    const audit = await api.call('GET', `/audit?waveId=${id}`);
    const actions = (audit.body.items as { action: string }[]).map((r) => r.action);
    expect(actions).toEqual(
      expect.arrayContaining(['approval.requested', 'approval.given', 'approval.executed', 'wave.schedule']),
    );
  });

  it('a rate raised above the bound waits for a second key; a rate change invalidates an approval made before it', async () => {
    const created = await api.call('POST', '/waves', {
      body: { name: 'rate', selector: { type: 'remaining' }, protocols: ['pop3'], ratePerSecond: 50 },
    });
    const id = created.body.id as string;
    const raise = await api.call('PATCH', `/waves/${id}`, { body: { ratePerSecond: 500 } });
    expect(raise.status).toBe(409);
    expect(raise.body).toMatchObject({ code: 'approval_required', rule: 'raise_rate', command: 'update' });
    const first = raise.body.approvalId as string;
    expect((await api.call('POST', `/approvals/${first}/approve`, { key: 'ops2', body: {} })).status).toBe(200);

    // Another change after the approval: the plan it was bound to is gone.
    expect((await api.call('PATCH', `/waves/${id}`, { body: { batchSize: 100 } })).status).toBe(200);
    const shown = await api.call('GET', `/approvals/${first}`);
    expect(shown.body).toMatchObject({ state: 'invalidated', endedReason: 'plan_changed' });

    const again = await api.call('PATCH', `/waves/${id}`, { body: { ratePerSecond: 500 } });
    expect(again.status).toBe(409);
    const second = again.body.approvalId as string;
    expect(second).not.toBe(first);
    const pending = await api.call<{ id: string }[]>('GET', '/approvals?state=pending');
    expect(pending.body.map((a) => a.id)).toContain(second);
    expect((await api.call('GET', `/waves/${id}`)).body.ratePerSecond).toBe(50);
  });

  it('support: lifting a hold waits for an ops key (409 approval_required), then releases the account', async () => {
    const [{ login }] = await api.h.db.dataSource.query<{ login: string }[]>(
      `SELECT login FROM accounts WHERE NOT leaked AND NOT held ORDER BY id LIMIT 1`,
    );
    const path = `/accounts/${encodeURIComponent(login)}/hold`;
    const held = await api.call('POST', path, { key: 'support', body: { reason: 'fraud check', ticket: 'SEC-1' } });
    expect(held.status).toBe(200);
    expect(held.body.held).toBe(true);
    const release = { reason: 'customer verified', ticket: 'SUP-2' };
    const refused = await api.call('DELETE', path, { key: 'support', body: release });
    expect(refused.status).toBe(409);
    expect(refused.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(refused.body).toMatchObject({ code: 'approval_required', rule: 'support_override', waveId: null });
    expect((await api.call('GET', `/accounts/${encodeURIComponent(login)}`, { key: 'support' })).body.held).toBe(true);
    const approved = await api.call('POST', `/approvals/${refused.body.approvalId}/approve`, { body: {} });
    expect(approved.status).toBe(200);
    const released = await api.call('DELETE', path, { key: 'support', body: release });
    expect(released.status).toBe(200);
    expect(released.body.held).toBe(false);
  });

  it('the requester withdraws its own request (was a 500); a support key only its own override request', async () => {
    const created = await api.call('POST', '/waves', {
      body: { name: 'withdrawn', selector: { type: 'remaining' }, protocols: ['imap'], ratePerSecond: 500 },
    });
    const asked = await api.call('POST', `/waves/${created.body.id}/start`);
    expect(asked.body.code).toBe('approval_required');
    const bySupport = await api.call('POST', `/approvals/${asked.body.approvalId}/reject`, {
      key: 'support',
      body: { reason: 'not mine' },
    });
    expect(bySupport.status).toBe(403);
    expect(bySupport.headers.get('content-type')).toMatch(/application\/problem\+json/);
    const withdrawn = await api.call('POST', `/approvals/${asked.body.approvalId}/reject`, {
      body: { reason: 'wrong rate' },
    });
    expect(withdrawn.status).toBe(200);
    expect(withdrawn.body).toMatchObject({ state: 'rejected', decidedBy: `ops:${api.keyNames.ops}` });
  });

  it('refuses bad input naming the field, and unknown requests with 404', async () => {
    const unknown = await api.call('POST', '/approvals/6f1c0b8e-0000-4000-8000-000000000001/approve', {
      key: 'ops2',
      body: {},
    });
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe('approval_not_found');
    const noReason = await api.call('POST', '/approvals/6f1c0b8e-0000-4000-8000-000000000001/reject', { body: {} });
    expect(noReason.status).toBe(400);
    expect(noReason.body.field).toBe('reason');
    const badState = await api.call('GET', '/approvals?state=maybe');
    expect(badState.status).toBe(400);
    expect(badState.body.field).toBe('state');
    const badPolicy = await api.call('POST', '/waves', {
      body: {
        name: 'bad policy',
        selector: { type: 'remaining' },
        protocols: ['pop3'],
        ratePerSecond: 5,
        approvalPolicy: { require: ['everything'] },
      },
    });
    expect(badPolicy.status).toBe(400);
    expect(badPolicy.body.field).toMatch(/^approvalPolicy/);
  });
});
