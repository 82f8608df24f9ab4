import { request } from 'node:http';
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
    // debug: an accepted POST answered on the request event is logged at debug only (login-event.raw-route.ts).
    api = await startApiHarness('login-events', { env: { LOG_LEVEL: 'debug' } });
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

  // The route is answered ahead of Nest's router (login-event.fast-route.ts): the same answers as every other route.
  it('answers on its fast path as any route does: headers, problems, limits, metrics', async () => {
    const ok = await post(JSON.stringify(dovecotEvent(login, true)), api.secrets.signals);
    expect(ok.status).toBe(202);
    expect(ok.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(ok.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(ok.headers.get('x-content-type-options')).toBe('nosniff');
    expect(ok.headers.get('cache-control')).toBe('no-store');
    expect(ok.headers.get('x-request-id')).toBeTruthy();

    const missing = await post('{}', null);
    expect(missing.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(missing.headers.get('www-authenticate')).toBe('Bearer realm="reopen"');
    expect(await missing.json()).toMatchObject({ status: 401, code: 'unauthorized' });
    expect(
      await (await post('{}', 'rk_signals_abcdef_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG')).json(),
    ).toMatchObject({ status: 401, code: 'unauthorized', detail: 'the API key is unknown or revoked' });
    const viewer = await post('{}', api.secrets.viewer);
    expect(await viewer.json()).toMatchObject({ code: 'forbidden', role: 'viewer', allowedRoles: ['signals'] });
    // The key in the header works too, as on every route.
    const bearer = await fetch(`${api.api.origin}/api/v1/login-events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${api.secrets.signals}` },
      body: JSON.stringify([dovecotEvent(login, true), dovecotEvent(login, true)]),
    });
    expect(bearer.status).toBe(202);
    expect(await bearer.json()).toEqual({ accepted: 2, dropped: {} });

    const big = await post(JSON.stringify({ event: 'x'.repeat(70 * 1024) }), api.secrets.signals);
    expect(big.status).toBe(413);
    expect(await big.json()).toMatchObject({ code: 'payload_too_large' });
    const notJson = await fetch(
      `${api.api.origin}/api/v1/login-events?key=${encodeURIComponent(api.secrets.signals)}`,
      {
        method: 'POST',
        headers: { 'content-type': 'text/plain' },
        body: 'user=a',
      },
    );
    expect(notJson.status).toBe(400);
    expect(await notJson.json()).toMatchObject({ code: 'validation_failed', field: 'body' });
    const nul = await post(
      JSON.stringify({ event: 'auth_request_finished', fields: { user: 'a\u0000' } }),
      api.secrets.signals,
    );
    expect(nul.status).toBe(400);
    expect(await nul.json()).toMatchObject({ code: 'validation_failed', errors: [{ field: 'fields.user' }] });
    const number = await post('5', api.secrets.signals);
    expect(number.status).toBe(400);

    // Other methods and longer paths are not this route.
    const get = await fetch(`${api.api.origin}/api/v1/login-events?key=${encodeURIComponent(api.secrets.signals)}`);
    expect(get.status).toBe(404);
    expect(get.headers.get('content-type')).toMatch(/application\/problem\+json/);
    const longer = await fetch(
      `${api.api.origin}/api/v1/login-events/x?key=${encodeURIComponent(api.secrets.signals)}`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      },
    );
    expect(longer.status).toBe(404);
    // As Express matches a route: a trailing slash and the case of the route's path do not matter (the API prefix's
    // case does: outside /api/v1 is a 404).
    const upper = await fetch(`${api.api.origin}/API/v1/login-events?key=${encodeURIComponent(api.secrets.signals)}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(dovecotEvent(login, true)),
    });
    expect(upper.status).toBe(404);
    const slash = await fetch(`${api.api.origin}/api/v1/Login-Events/?key=${encodeURIComponent(api.secrets.signals)}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(dovecotEvent(login, true)),
    });
    expect(slash.status).toBe(202);

    const metrics = await (
      await fetch(`${api.api.origin}/api/v1/metrics`, { headers: { authorization: `Bearer ${api.secrets.ops}` } })
    ).text();
    expect(metrics).toMatch(
      /reopen_api_request_duration_seconds_count\{method="POST",route="\/api\/v1\/login-events",status="202"\} [1-9]/,
    );
    expect(metrics).toMatch(/route="\/api\/v1\/login-events",status="401"/);
  });

  /** A POST written in pieces with chunked transfer encoding (no Content-Length), as a streaming client sends it. */
  function postChunked(pieces: (string | Buffer)[], headers: Record<string, string> = {}) {
    return new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
      const req = request(
        `${api.api.origin}/api/v1/login-events?key=${encodeURIComponent(api.secrets.signals)}`,
        { method: 'POST', headers: { 'content-type': 'application/json', ...headers } },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        },
      );
      req.on('error', reject);
      for (const piece of pieces) req.write(piece);
      req.end();
    });
  }

  // A key in use is answered on node's request event (login-event.raw-route.ts), its body read there: the same answers.
  it('reads a body that comes in pieces, bounds it without a Content-Length, and echoes the request id', async () => {
    expect((await post(JSON.stringify(dovecotEvent(login, true)), api.secrets.signals)).status).toBe(202); // key known
    const event = JSON.stringify([dovecotEvent(login, true), dovecotEvent(login, false)]);
    const pieces = await postChunked([event.slice(0, 10), event.slice(10, 200), event.slice(200)], {
      'x-request-id': 'dovecot-1',
    });
    expect(pieces.status).toBe(202);
    expect(JSON.parse(pieces.body)).toEqual({ accepted: 2, dropped: {} });
    expect(pieces.headers['x-request-id']).toBe('dovecot-1');
    expect(pieces.headers['content-security-policy']).toContain("default-src 'none'");

    const huge = await postChunked(Array.from({ length: 70 }, () => ' '.repeat(1024)).concat(['{}']));
    expect(huge.status).toBe(413);
    expect(huge.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(JSON.parse(huge.body)).toMatchObject({ code: 'payload_too_large', limitBytes: 65536 });

    const broken = await postChunked(['{"event": "auth_request_finished",', ' "fields": ']);
    expect(broken.status).toBe(400);
    expect(JSON.parse(broken.body)).toMatchObject({ code: 'invalid_json', field: 'body' });
    const latin1 = await postChunked(['{"fields": {"user": "', Buffer.from([0xe9]), '"}}']);
    expect(latin1.status).toBe(400);
    expect(JSON.parse(latin1.body)).toMatchObject({ code: 'invalid_body', field: 'body' });
    const empty = await postChunked([]);
    expect(empty.status).toBe(202); // an empty body is `{}`, as the JSON parser reads it: one malformed event
    expect(JSON.parse(empty.body)).toEqual({ accepted: 0, dropped: { malformed: 1 } });
  });

  // The raw route takes only the plain case; Nest answers the rest (here: any URL with a `%` goes on to Express).
  it('answers alike whether the request is taken on the request event or by Nest', async () => {
    const key = encodeURIComponent(api.secrets.signals);
    const raw = `${api.api.origin}/api/v1/login-events?key=${key}`;
    const viaNest = `${raw}&via=%4Eest`;
    expect((await post('{}', api.secrets.signals)).status).toBe(202); // the key is in use
    const bodies: (() => string | Buffer)[] = [
      () => JSON.stringify(dovecotEvent(login, false)),
      () => JSON.stringify([dovecotEvent(login, true), { event: 'auth_request_finished' }, { event: 'other' }]),
      () => '"hello"',
      () => '5',
      () => '{"event": "auth_request_finished", "fields": ',
      () => JSON.stringify(Array.from({ length: 1001 }, () => ({}))),
      () => JSON.stringify({ event: 'auth_request_finished', fields: { user: 'a\u0000' } }),
      () => JSON.stringify({ event: 'x'.repeat(70 * 1024) }),
      () => Buffer.concat([Buffer.from('{"fields": {"user": "'), Buffer.from([0xe9]), Buffer.from('"}}')]),
      () => `${'['.repeat(40)}${']'.repeat(40)}`,
    ];
    const answer = async (url: string, body: string | Buffer) => {
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      const { requestId, ...rest } = (await res.json()) as Record<string, unknown>;
      expect(typeof (requestId ?? '')).toBe('string');
      return { status: res.status, type: res.headers.get('content-type'), body: rest };
    };
    for (const body of bodies) {
      const taken = await answer(raw, body());
      expect(taken).toEqual(await answer(viaNest, body()));
      expect(taken.status).not.toBe(500);
    }
  });

  it('never writes the key to the log', async () => {
    await post(JSON.stringify(dovecotEvent(login, true)), api.secrets.signals);
    await pollUntil(async () =>
      api.api.lines.some((l) => l.includes('/api/v1/login-events') && l.includes('"statusCode":202')),
    );
    expect(api.api.lines.join('\n')).not.toContain(api.secrets.signals);
  });
});
