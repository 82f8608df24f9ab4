import { ApiHarness, startApiHarness } from './api-harness';

const LOGINS = ['vip1@example.test', 'vip2@example.test'];
const ADDRESS = /[a-z0-9.]+@example\.test/;

/*
 * Security probe: the reader routes that show a wave's plan or an account outside GET /waves and GET /progress.
 * A viewer may read approval requests (GET /approvals, GET /approvals/{id}) and a wave's gate check, but never an
 * e-mail address or a login (docs/security.md, "What a viewer sees"): a request carries the wave's plan as stored
 * (an explicit list of logins), a support override's request the account's login and state.
 */
describe('viewers read approvals and gate checks without a login in them', () => {
  let api: ApiHarness;
  let waveId: string;
  let waveApproval: string;
  let overrideApproval: string;
  let held: string;

  beforeAll(async () => {
    api = await startApiHarness('probeappr', {
      accounts: 20,
      env: { APPROVAL_REQUIRED_FOR: 'support_override' },
    });
    const csv = [
      'login,cohorts,leaked,password_changed_at',
      `${LOGINS[0]},general,false,`,
      `${LOGINS[1]},general,false,`,
      'leaky@example.test,general,true,',
    ].join('\n');
    const imported = await api.call('POST', '/accounts/import', {
      raw: `${csv}\n`,
      headers: { 'content-type': 'text/csv' },
    });
    expect(imported.status).toBe(200);

    const created = await api.call('POST', '/waves', {
      body: {
        name: 'vip list',
        selector: { type: 'logins', logins: LOGINS },
        protocols: ['imap'],
        ratePerSecond: 5,
        approvalPolicy: { require: ['start'] },
        gates: [
          {
            name: 'sig',
            metric: 'signal',
            signal: 'stuffing-for-vip1@example.test',
            windowSeconds: 60,
            threshold: 5,
            comparison: 'above',
            action: 'pause',
            minSamples: 1,
          },
        ],
      },
    });
    expect(created.status).toBe(201);
    waveId = created.body.id;
    const start = await api.call('POST', `/waves/${waveId}/start`);
    expect(start.body.code).toBe('approval_required');
    waveApproval = start.body.approvalId;

    // A leaked account whose password was never changed: support's enable needs an override, and the override a
    // second ops key.
    held = 'leaky@example.test';
    const enable = await api.call('POST', `/accounts/${encodeURIComponent(held)}/enable`, {
      key: 'support',
      body: { protocols: ['imap'], reason: 'customer called', ticket: 'T-1', override: true },
    });
    expect(enable.body.code).toBe('approval_required');
    overrideApproval = enable.body.approvalId;
  });
  afterAll(async () => {
    await api?.close();
  });

  it('ops still read the plan and the override request in full', async () => {
    const wave = await api.call('GET', `/approvals/${waveApproval}`);
    expect(wave.status).toBe(200);
    expect(wave.body.plan.selector.logins).toEqual(LOGINS);
    const override = await api.call('GET', `/approvals/${overrideApproval}`);
    expect(override.body.args.login).toBe(held);
  });

  it('GET /approvals: a viewer gets the explicit list as its count, and no login anywhere', async () => {
    const listed = await api.call('GET', '/approvals', { key: 'viewer' });
    expect(listed.status).toBe(200);
    const items = listed.body as { id: string; plan: { selector?: unknown } | null }[];
    expect(items.map((a) => a.id).sort()).toEqual([waveApproval, overrideApproval].sort());
    expect(items.find((a) => a.id === waveApproval)?.plan?.selector).toEqual({ type: 'logins', loginCount: 2 });
    expect(listed.text).not.toMatch(ADDRESS);
  });

  it('GET /approvals/{id}: the same for one request, its current check included', async () => {
    const wave = await api.call('GET', `/approvals/${waveApproval}`, { key: 'viewer' });
    expect(wave.status).toBe(200);
    expect(wave.body.plan.selector).toEqual({ type: 'logins', loginCount: 2 });
    expect(wave.body.current.matches).toBe(true);
    expect(wave.text).not.toMatch(ADDRESS);

    const override = await api.call('GET', `/approvals/${overrideApproval}`, { key: 'viewer' });
    expect(override.status).toBe(200);
    expect(override.body.command).toBe('support_override');
    expect(override.body.args.login).not.toBe(held);
    expect(override.body.plan.login).not.toBe(held);
    expect(override.text).not.toMatch(ADDRESS);
  });

  it('GET /waves/{id}/gate-check: a viewer reads no address (as in GET /waves/{id}); ops do', async () => {
    const asViewer = await api.call('GET', `/waves/${waveId}/gate-check`, { key: 'viewer' });
    expect(asViewer.status).toBe(200);
    expect(asViewer.body.gates).toHaveLength(1);
    expect(asViewer.text).not.toMatch(ADDRESS);
    const asOps = await api.call('GET', `/waves/${waveId}/gate-check`);
    expect(asOps.text).toMatch(ADDRESS);
  });
});
