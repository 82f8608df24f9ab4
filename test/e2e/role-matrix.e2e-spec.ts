import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiKeyService, NotificationService } from '@app/core';
import { aWave } from '@app/testing';
import { ApiHarness, CallOptions, KeyName, startApiHarness } from './api-harness';

type Access = 'public' | readonly KeyName[];
interface Route {
  method: string;
  /** As in the OpenAPI document. */
  path: string;
  access: Access;
  /** The status an allowed caller gets (the table is walked in order: lifecycle calls build on each other). */
  ok: number;
  call: () => { path: string } & CallOptions;
}

const READERS = ['ops', 'support', 'viewer'] as const;
const CALLERS: readonly (KeyName | null)[] = [null, 'revoked', 'ops', 'support', 'viewer', 'signals'];

describe('access: every route × every role, no key and a revoked key', () => {
  let api: ApiHarness;
  let waveId: string;
  let operationId: string;
  let subscriptionId: string;
  /** Requests an ops key of the fixture made (docs/approvals.md): one for ops to approve, one to reject. */
  const approvals: string[] = [];
  const login = 'user3@example.test';
  const rolledBack = 'user5@example.test';
  const overridden = 'user6@example.test';
  const note = { reason: 'customer call', ticket: 'SUP-1' };

  beforeAll(async () => {
    api = await startApiHarness('roles', { accounts: 50 });
    await api.h.importPopulation({ count: 50, seed: 5 });
    const wave = await aWave('matrix')
      .logins(['user1@example.test', 'user2@example.test'])
      .protocols('imap')
      .rate(1)
      .schedule('2030-01-07T08:00', 'Europe/Paris')
      .create(api.h, 'ops:fixture');
    waveId = wave.id;
    subscriptionId = (
      await new NotificationService(api.h.db.dataSource).create({ name: 'matrix', url: 'http://127.0.0.1:9/' }, 'ops:x')
    ).id;
    const ops = api.h.support();
    operationId = (await ops.request('user4@example.test', 'disable', note, 'support:fixture')).id;
    // A live override for ops to revoke (as a support enable with override: true records it).
    await api.h.db.dataSource.query(
      `UPDATE accounts SET override_reason = 'r', override_ticket = 't', override_by = 'support:fixture',
              override_at = now(), override_expires_at = now() + interval '1 hour' WHERE login = $1`,
      [overridden],
    );
    for (const name of ['to approve', 'to reject']) {
      const guarded = await aWave(name)
        .logins(['user7@example.test'])
        .protocols('imap')
        .rate(1)
        .approvalPolicy({ require: ['start'] })
        .create(api.h, 'ops:fixture');
      const refused = await api.h.commands.start(guarded.id, 'ops:fixture', 'fixture-key').catch((e: unknown) => e);
      approvals.push((refused as { extra: { approvalId: string } }).extra.approvalId);
    }
    // A wave that changed one account (no worker runs here: its outcome is written as the engine would).
    const changed = await aWave('changed').logins([rolledBack]).protocols('imap').rate(1).started(api.h, 'ops:fixture');
    await api.h.db.dataSource.query(
      `UPDATE wave_members SET state = 'enabled', prior_imap = false, prior_pop3 = false, result_version = 2,
              done_at = now() WHERE wave_id = $1`,
      [changed.id],
    );
  });
  afterAll(async () => {
    await api?.close();
  });

  // No worker runs here: waves stay where the commands put them, so the lifecycle is deterministic.
  const routes = (): Route[] => [
    { method: 'GET', path: '/health/live', access: 'public', ok: 200, call: () => ({ path: '/health/live' }) },
    { method: 'GET', path: '/health/ready', access: 'public', ok: 200, call: () => ({ path: '/health/ready' }) },
    {
      method: 'GET',
      path: '/health/dependencies',
      access: 'public',
      ok: 200,
      call: () => ({ path: '/health/dependencies' }),
    },
    { method: 'GET', path: '/metrics', access: READERS, ok: 200, call: () => ({ path: '/metrics' }) },
    { method: 'GET', path: '/workers', access: READERS, ok: 200, call: () => ({ path: '/workers' }) },
    {
      method: 'POST',
      path: '/accounts/import',
      access: ['ops'],
      ok: 200,
      call: () => ({
        path: '/accounts/import',
        raw: 'login,cohorts,leaked,password_changed_at\nnew1@example.test,general,false,\n',
        headers: { 'content-type': 'text/csv' },
      }),
    },
    {
      method: 'GET',
      path: '/accounts/{login}',
      access: ['support', 'ops'],
      ok: 200,
      call: () => ({ path: `/accounts/${login}` }),
    },
    {
      method: 'POST',
      path: '/accounts/{login}/enable',
      access: ['support'],
      ok: 202,
      call: () => ({ path: `/accounts/${login}/enable`, body: note }),
    },
    {
      method: 'POST',
      path: '/accounts/{login}/disable',
      access: ['support'],
      ok: 202,
      call: () => ({ path: `/accounts/${login}/disable`, body: { ...note, protocols: ['pop3'] } }),
    },
    {
      method: 'POST',
      path: '/accounts/{login}/rollback',
      access: ['support'],
      ok: 202,
      call: () => ({ path: `/accounts/${rolledBack}/rollback`, body: note }),
    },
    {
      method: 'POST',
      path: '/accounts/{login}/hold',
      access: ['support'],
      ok: 200,
      call: () => ({ path: `/accounts/${login}/hold`, body: note }),
    },
    {
      method: 'DELETE',
      path: '/accounts/{login}/hold',
      access: ['support'],
      ok: 200,
      call: () => ({ path: `/accounts/${login}/hold`, body: note }),
    },
    {
      method: 'GET',
      path: '/operations/{id}',
      access: ['support', 'ops'],
      ok: 200,
      call: () => ({ path: `/operations/${operationId}` }),
    },
    { method: 'GET', path: '/overrides', access: ['support', 'ops'], ok: 200, call: () => ({ path: '/overrides' }) },
    {
      method: 'DELETE',
      path: '/overrides/{login}',
      access: ['ops'],
      ok: 200,
      call: () => ({ path: `/overrides/${overridden}`, body: note }),
    },
    {
      method: 'POST',
      path: '/waves',
      access: ['ops'],
      ok: 201,
      call: () => ({
        path: '/waves',
        body: { name: 'x', selector: { type: 'remaining' }, protocols: ['pop3'], ratePerSecond: 5 },
      }),
    },
    { method: 'GET', path: '/waves', access: READERS, ok: 200, call: () => ({ path: '/waves' }) },
    { method: 'GET', path: '/waves/{id}', access: READERS, ok: 200, call: () => ({ path: `/waves/${waveId}` }) },
    {
      method: 'PATCH',
      path: '/waves/{id}',
      access: ['ops'],
      ok: 200,
      call: () => ({ path: `/waves/${waveId}`, body: { ratePerSecond: 2 } }),
    },
    {
      method: 'GET',
      path: '/waves/{id}/preview',
      access: ['ops'],
      ok: 200,
      call: () => ({ path: `/waves/${waveId}/preview` }),
    },
    ...(['schedule', 'unschedule', 'start', 'pause', 'resume', 'cancel', 'rollback'] as const).map(
      (command): Route => ({
        method: 'POST',
        path: `/waves/{id}/${command}`,
        access: ['ops'],
        ok: 200,
        call: () => ({ path: `/waves/${waveId}/${command}` }),
      }),
    ),
    {
      method: 'GET',
      path: '/waves/{id}/progress',
      access: READERS,
      ok: 200,
      call: () => ({ path: `/waves/${waveId}/progress` }),
    },
    {
      method: 'GET',
      path: '/waves/{id}/events',
      access: READERS,
      ok: 200,
      call: () => ({ path: `/waves/${waveId}/events` }),
    },
    { method: 'GET', path: '/progress', access: READERS, ok: 200, call: () => ({ path: '/progress' }) },
    {
      method: 'GET',
      path: '/waves/{id}/gate-measurements',
      access: READERS,
      ok: 200,
      call: () => ({ path: `/waves/${waveId}/gate-measurements?limit=5` }),
    },
    {
      method: 'GET',
      path: '/waves/{id}/gate-check',
      access: READERS,
      ok: 200,
      call: () => ({ path: `/waves/${waveId}/gate-check` }),
    },
    {
      method: 'GET',
      path: '/waves/{id}/history',
      access: READERS,
      ok: 200,
      call: () => ({ path: `/waves/${waveId}/history` }),
    },
    {
      method: 'POST',
      path: '/signals',
      access: ['signals'],
      ok: 201,
      call: () => ({
        path: '/signals',
        body: { name: 'failed_logins_per_minute', value: 3, windowSeconds: 60, observedAt: new Date().toISOString() },
      }),
    },
    {
      method: 'POST',
      path: '/login-events',
      access: ['signals'],
      ok: 202,
      call: () => ({
        path: '/login-events',
        body: {
          event: 'auth_request_finished',
          end_time: new Date().toISOString(),
          fields: { service: 'imap', user: 'nobody@example.test' },
        },
      }),
    },
    { method: 'GET', path: '/audit', access: ['ops'], ok: 200, call: () => ({ path: `/audit?waveId=${waveId}` }) },
    {
      method: 'POST',
      path: '/subscriptions',
      access: ['ops'],
      ok: 201,
      call: () => ({ path: '/subscriptions', body: { name: 'chan', url: 'https://hooks.example/x', format: 'slack' } }),
    },
    { method: 'GET', path: '/subscriptions', access: ['ops'], ok: 200, call: () => ({ path: '/subscriptions' }) },
    {
      method: 'GET',
      path: '/subscriptions/{id}',
      access: ['ops'],
      ok: 200,
      call: () => ({ path: `/subscriptions/${subscriptionId}` }),
    },
    {
      method: 'GET',
      path: '/subscriptions/{id}/deliveries',
      access: ['ops'],
      ok: 200,
      call: () => ({ path: `/subscriptions/${subscriptionId}/deliveries` }),
    },
    {
      method: 'POST',
      path: '/subscriptions/{id}/deliveries/redeliver',
      access: ['ops'],
      ok: 200,
      call: () => ({ path: `/subscriptions/${subscriptionId}/deliveries/redeliver` }),
    },
    {
      method: 'POST',
      path: '/subscriptions/{id}/deliveries/{deliveryId}/redeliver',
      access: ['ops'],
      // No failed delivery to send again: past the role check, the answer is the delivery's 404.
      ok: 404,
      call: () => ({ path: `/subscriptions/${subscriptionId}/deliveries/1/redeliver` }),
    },
    {
      method: 'DELETE',
      path: '/subscriptions/{id}',
      access: ['ops'],
      ok: 204,
      call: () => ({ path: `/subscriptions/${subscriptionId}` }),
    },
    { method: 'GET', path: '/approvals', access: READERS, ok: 200, call: () => ({ path: '/approvals' }) },
    {
      method: 'GET',
      path: '/approvals/{id}',
      access: READERS,
      ok: 200,
      call: () => ({ path: `/approvals/${approvals[0]}` }),
    },
    {
      method: 'POST',
      path: '/approvals/{id}/approve',
      access: ['ops'],
      ok: 200,
      call: () => ({ path: `/approvals/${approvals[0]}/approve`, body: { note: 'fine' } }),
    },
    {
      method: 'POST',
      path: '/approvals/{id}/reject',
      access: ['ops'],
      ok: 200,
      call: () => ({ path: `/approvals/${approvals[1]}/reject`, body: { reason: 'not now' } }),
    },
  ];

  /** Status only: an event stream is aborted once its headers arrived. */
  async function statusOf(method: string, key: KeyName | null, o: { path: string } & CallOptions): Promise<number> {
    if (!o.path.endsWith('/events')) return (await api.call(method, o.path, { ...o, key })).status;
    const abort = new AbortController();
    const res = await fetch(`${api.api.origin}/api/v1${o.path}`, {
      headers: key ? { authorization: `Bearer ${api.secrets[key]}` } : {},
      signal: abort.signal,
    });
    abort.abort();
    return res.status;
  }

  it('covers every operation of the OpenAPI document', () => {
    const doc = JSON.parse(readFileSync(join(__dirname, '../../docs/openapi.json'), 'utf8')) as {
      paths: Record<string, Record<string, unknown>>;
    };
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${path.replace(/^\/api\/v1/, '')}`),
    );
    expect(
      routes()
        .map((r) => `${r.method} ${r.path}`)
        .sort(),
    ).toEqual(documented.sort());
  });

  it('answers 401 without a valid key, 403 to the wrong role, and success to the right ones', async () => {
    const mismatches: string[] = [];
    for (const route of routes()) {
      for (const caller of CALLERS) {
        const expected =
          route.access === 'public'
            ? route.ok
            : caller === null || caller === 'revoked'
              ? 401
              : route.access.includes(caller)
                ? route.ok
                : 403;
        const status = await statusOf(route.method, caller, route.call());
        if (status !== expected)
          mismatches.push(`${route.method} ${route.path} as ${caller ?? 'no key'}: ${status}, expected ${expected}`);
      }
    }
    expect(mismatches).toEqual([]);
    const [audited] = await api.h.db.dataSource.query<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM audit_log WHERE actor = $1 AND action LIKE 'wave.%' AND wave_id = $2`,
      [`ops:${api.keyNames.ops}`, waveId],
    );
    expect(audited.n).toBe(8); // updated + the seven lifecycle commands, each under the caller's key
  });

  it('serves the OpenAPI document and Swagger UI without a key', async () => {
    for (const path of ['/docs', '/docs/openapi.json', '/api/v1/docs']) {
      expect((await fetch(`${api.api.origin}${path}`)).status).toBe(200);
    }
  });

  it('rate-limits per key, across API processes (the count lives in Redis)', async () => {
    const env = { API_RATE_LIMIT_PER_MINUTE: '3' };
    const [a, b] = [await api.startAnotherApi(env), await api.startAnotherApi(env)];
    const key = await new ApiKeyService(api.h.db.owner).create('viewer', 'limited');
    const get = (origin: string) =>
      fetch(`${origin}/api/v1/waves`, { headers: { authorization: `Bearer ${key.secret}` } });
    const statuses = [];
    for (const origin of [a.origin, b.origin, a.origin]) statuses.push((await get(origin)).status);
    const refused = await get(b.origin);
    expect([...statuses, refused.status]).toEqual([200, 200, 200, 429]);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await refused.json()).toMatchObject({ code: 'rate_limited', status: 429 });
    // Another key is counted on its own.
    const other = await new ApiKeyService(api.h.db.owner).create('viewer', 'limited-2');
    expect(
      (await fetch(`${a.origin}/api/v1/waves`, { headers: { authorization: `Bearer ${other.secret}` } })).status,
    ).toBe(200);
  });
});
