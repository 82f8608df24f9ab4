import { pollUntil } from '@app/testing';
import { ApiHarness, startApiHarness } from './api-harness';

/** What Dovecot's event exporter posts (a failed login has no `success` field). */
function dovecotEvent(login: string, ok: boolean, at = new Date()) {
  return {
    event: 'auth_request_finished',
    end_time: at.toISOString(),
    categories: ['service:auth', 'auth'],
    fields: {
      service: 'pop3',
      original_user: login,
      remote_ip: '203.0.113.5',
      session: `s-${Math.random()}`,
      ...(ok ? { success: 'yes' } : {}),
    },
  };
}

describe('POST /login-events: the mail server posts its login events with a signals key in the URL', () => {
  let api: ApiHarness;
  let login: string;

  beforeAll(async () => {
    api = await startApiHarness('login-events', { env: { LOG_LEVEL: 'info' } });
    await api.h.importPopulation({ count: 20, seed: 3 });
    const [row] = await api.h.db.dataSource.query<{ login: string }[]>(
      `SELECT login FROM accounts ORDER BY id LIMIT 1`,
    );
    login = row.login;
  });
  afterAll(async () => {
    await api?.close();
  });

  /** As Dovecot sends it: no Authorization header, the key in the query string. */
  function post(body: string, key: string | null) {
    const query = key === null ? '' : `?key=${encodeURIComponent(key)}`;
    return fetch(`${api.api.origin}/api/v1/login-events${query}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
  }

  it('counts an event posted with ?key= and answers 202, within a flush', async () => {
    const res = await post(JSON.stringify(dovecotEvent(login, false)), api.secrets.signals);
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ accepted: 1, dropped: {} });
    await pollUntil(async () => {
      const [row] = await api.h.db.dataSource.query<{ failed: number }[]>(
        `SELECT coalesce(sum(failed), 0)::int AS failed FROM login_counts WHERE wave_id IS NULL AND cohort = '*'`,
      );
      return row.failed === 1;
    });
  });

  it('counts and drops what it cannot use, still 202 (an error would make the sender retry it)', async () => {
    const body = JSON.stringify([
      dovecotEvent(login, true),
      { event: 'imap_command_finished', fields: {} },
      { event: 'auth_request_finished', fields: { service: 'smtp', user: login }, end_time: new Date().toISOString() },
      { event: 'auth_request_finished' },
    ]);
    const res = await post(body, api.secrets.signals);
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ accepted: 1, dropped: { not_a_login: 1, other_service: 1, malformed: 1 } });
  });

  it('refuses a body that is not an event, naming it, and a wrong, revoked or missing key', async () => {
    const bad = await post('"hello"', api.secrets.signals);
    expect(bad.status).toBe(400);
    expect(bad.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(await bad.json()).toMatchObject({ code: 'invalid_json', field: 'body' });
    const tooMany = await post(JSON.stringify(Array.from({ length: 1001 }, () => ({}))), api.secrets.signals);
    expect(tooMany.status).toBe(400);
    expect(await tooMany.json()).toMatchObject({ code: 'validation_failed', errors: [{ field: 'body' }] });
    expect((await post('{}', null)).status).toBe(401);
    expect((await post('{}', api.secrets.revoked)).status).toBe(401);
    expect((await post('{}', 'not-a-key')).status).toBe(401);
    expect((await post('{}', api.secrets.viewer)).status).toBe(403);
    // ?key= is for this route only: elsewhere a key must come in the header.
    const elsewhere = await fetch(`${api.api.origin}/api/v1/progress?key=${encodeURIComponent(api.secrets.ops)}`);
    expect(elsewhere.status).toBe(401);
  });

  it('never writes the key to the log', async () => {
    await post(JSON.stringify(dovecotEvent(login, true)), api.secrets.signals);
    await pollUntil(async () => api.api.lines.some((l) => l.includes('/api/v1/login-events')));
    expect(api.api.lines.join('\n')).not.toContain(api.secrets.signals);
  });
});
