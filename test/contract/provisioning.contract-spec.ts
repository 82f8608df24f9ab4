import { pollUntil } from '@app/testing';
import { Agent, request } from 'undici';
import { accessPath, ContractHttp, freshKey, sessionsPath, type ContractResponse, type Json } from './contract-http';
import { ACCESS_STATE, CAPABILITIES, PATCH_RESULT, SESSIONS_RESULT, sessionsAnswer } from './contract-shapes';
import { contractTarget, type ContractTarget } from './contract-target';

/**
 * The provisioning contract (../shared/docs/provisioning-contract.md, read as docs/provisioning-contract-notes.md
 * says where it is ambiguous), checked from the outside over HTTP only. It checks what the contract promises and
 * accepts what it allows: every promised field is required, fields beyond them are not refused, `sessions` may be
 * left out where nothing was turned off (contract-shapes.ts).
 * Without MAILSTORE_URL it runs against an in-process simulator; with it, against that implementation,
 * touching only MAILSTORE_TEST_ACCOUNTS and putting them back as it found them (see contract-target.ts).
 * Every check reads the current state first, so it holds whatever state the accounts start in.
 */

const external = Boolean(process.env.MAILSTORE_URL);
// Checks that need the simulator's fault injection (admin API) cannot run against another
// implementation; so is flooding a real gateway to see its 429 (it may throttle or ban the credential).
// They are skipped there, and beforeAll logs which ones.
const itSim = external ? it.skip : it;
// The 403 check needs a token without write scope; an external run provides one or skips it.
const itReadOnly = external && !process.env.MAILSTORE_READONLY_TOKEN ? it.skip : it;
const SIM_ONLY_CHECKS = [
  '429 from the rate limiter with Retry-After and rate_limited body',
  '503 with Retry-After, nothing applied',
  '500 retried with the same key applies once',
  'response lost after apply, replayed by the same key',
  '409 idempotency_in_progress while the first request runs',
];

interface Protocols {
  imap: boolean;
  pop3: boolean;
}

interface State {
  protocols: Protocols;
  version: number;
}

let target: ContractTarget;
let http: ContractHttp;
let capabilities: Json;
const initial = new Map<string, Protocols>();
let missing: string;
/** Its own connections, closed in afterAll, so no keep-alive socket outlives the suite. */
const adminAgent = new Agent({ connections: 2 });

beforeAll(async () => {
  target = await contractTarget();
  http = new ContractHttp(target.baseUrl, target.token);
  missing = `contract-missing-${Date.now().toString(36)}@example.invalid`;
  capabilities = (await http.get('/capabilities')).body;
  for (const account of target.accounts) initial.set(account, (await read(account)).protocols);
  if (!target.simulated) {
    const skipped = [...SIM_ONLY_CHECKS];
    if (!target.readOnlyToken) skipped.push('403 forbidden (set MAILSTORE_READONLY_TOKEN)');
    console.info(`contract suite against ${target.baseUrl}: skipped checks: ${skipped.join('; ')}`);
  }
});

afterAll(async () => {
  if (!http) return;
  try {
    for (const [account, protocols] of initial) {
      const now = await read(account);
      if (now.protocols.imap !== protocols.imap || now.protocols.pop3 !== protocols.pop3) {
        const res = await patch(account, { protocols }, freshKey('restore'));
        if (res.status !== 200) throw new Error(`could not restore ${account}: ${res.status} ${res.text}`);
      }
    }
  } finally {
    await http.close();
    await adminAgent.close();
    await target.close();
  }
});

async function read(account: string): Promise<State & { etag: string | undefined }> {
  const res = await http.get(accessPath(account));
  if (res.status !== 200) throw new Error(`GET ${account}: ${res.status} ${res.text}`);
  return { protocols: res.body.protocols, version: res.body.version, etag: res.headers.etag };
}

function patch(account: string, body: unknown, key = freshKey('patch'), headers?: Record<string, string>) {
  return http.call('PATCH', accessPath(account), { body, idempotencyKey: key, headers });
}

function batch(body: Record<string, unknown>, key = freshKey('batch')): Promise<ContractResponse> {
  return http.call('POST', '/access/batch', { body, idempotencyKey: key });
}

function expectProblem(res: ContractResponse, status: number, code: string): void {
  expect({ status: res.status, contentType: res.headers['content-type'], code: res.body?.code }).toEqual({
    status,
    contentType: expect.stringMatching(/^application\/problem\+json/),
    code,
  });
  expect(res.body).toMatchObject({
    type: expect.any(String),
    title: expect.any(String),
    status,
    detail: expect.any(String),
  });
}

/** The status of each batch item, in order. */
function statuses(res: ContractResponse): unknown[] {
  return (res.body.results as { status: unknown }[]).map((r) => r.status);
}

function accountsPair(): [string, string] {
  return [target.accounts[0], target.accounts[1]];
}

describe('capabilities', () => {
  it('has the contract shape', () => {
    expect(capabilities).toMatchObject(CAPABILITIES);
    for (const p of capabilities.protocols as unknown[]) expect(['imap', 'pop3']).toContain(p);
    expect(Number.isInteger(capabilities.maxBatchItems) && capabilities.maxBatchItems >= 1).toBe(true);
    expect(capabilities.idempotencyKeyTtlSeconds).toBeGreaterThanOrEqual(86_400); // "kept at least 24 h"
    const rates = Object.keys(CAPABILITIES.rateLimits).map((name) => [name, capabilities.rateLimits[name] > 0]);
    expect(Object.fromEntries(rates)).toEqual(Object.fromEntries(rates.map(([name]) => [name, true])));
  });
});

describe('GET and PATCH access', () => {
  it('reads AccessState with ETag "<version>"', async () => {
    const [a] = accountsPair();
    const res = await http.get(accessPath(a));
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body).toMatchObject({ ...ACCESS_STATE, account: a });
    expect(Number.isNaN(Date.parse(res.body.updatedAt))).toBe(false);
    expect(res.headers.etag).toBe(`"${res.body.version}"`);
  });

  it('answers an unknown account with 404 account_not_found', async () => {
    expectProblem(await http.get(accessPath(missing)), 404, 'account_not_found');
    expectProblem(await patch(missing, { protocols: { imap: true } }), 404, 'account_not_found');
  });

  it('sets the desired state, touching only the protocols sent; unchanged does not bump the version', async () => {
    const [a] = accountsPair();
    const before = await read(a);
    const wanted = !before.protocols.imap;
    const changed = await patch(a, { protocols: { imap: wanted }, reason: 'contract-suite' });
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject(PATCH_RESULT);
    expect(changed.body).toMatchObject({
      account: a,
      protocols: { imap: wanted, pop3: before.protocols.pop3 },
      version: before.version + 1,
      changed: true,
    });
    expect(changed.headers.etag).toBe(`"${before.version + 1}"`);
    const again = await patch(a, { protocols: { imap: wanted } });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ changed: false, version: before.version + 1 });
    expect(await read(a)).toMatchObject({ version: before.version + 1, protocols: { imap: wanted } });
  });

  it('applies If-Match on a match and answers 412 version_mismatch with currentVersion otherwise', async () => {
    const [a] = accountsPair();
    const before = await read(a);
    const ok = await patch(a, { protocols: { pop3: !before.protocols.pop3 } }, freshKey('if-match'), {
      'if-match': `"${before.version}"`,
    });
    expect(ok.body).toMatchObject({ changed: true, version: before.version + 1 });
    const stale = await patch(a, { protocols: { pop3: before.protocols.pop3 } }, freshKey('if-match'), {
      'if-match': `"${before.version}"`,
    });
    expectProblem(stale, 412, 'version_mismatch');
    expect(stale.body.currentVersion).toBe(before.version + 1);
    expect(await read(a)).toMatchObject({ version: before.version + 1, protocols: { pop3: !before.protocols.pop3 } });
  });

  it.each([
    ['malformed JSON', 'invalid_json', { rawBody: '{"protocols":' }],
    ['an unsupported protocol', 'unsupported_protocol', { body: { protocols: { smtp: true } } }],
    ['a non-boolean protocol', 'invalid_protocols', { body: { protocols: { imap: 'yes' } } }],
    [
      'a malformed If-Match',
      'invalid_if_match',
      { body: { protocols: { imap: true } }, headers: { 'if-match': 'seven' } },
    ],
  ])('refuses %s with 400 %s, applying nothing', async (_label, code, call) => {
    const [a] = accountsPair();
    const before = await read(a);
    const res = await http.call('PATCH', accessPath(a), { ...call, idempotencyKey: freshKey('bad') });
    expectProblem(res, 400, code);
    expect((await read(a)).version).toBe(before.version);
  });
});

describe('batch', () => {
  it('answers each item on its own, results[i] for items[i], with previous state and a summary', async () => {
    const [a, b] = accountsPair();
    const [sa, sb] = [await read(a), await read(b)];
    const res = await batch({
      items: [
        { account: a, protocols: { imap: !sa.protocols.imap } },
        { account: b, protocols: { ...sb.protocols } },
        { account: missing, protocols: { imap: true } },
      ],
      reason: 'contract-suite',
    });
    expect(res.status).toBe(200);
    expect(res.body.batchId).toBeDefined();
    expect(res.body.summary).toMatchObject({ applied: 1, unchanged: 1, failed: 1 });
    const [ra, rb, rm] = res.body.results;
    expect(ra).toMatchObject({
      account: a,
      status: 'applied',
      protocols: { imap: !sa.protocols.imap, pop3: sa.protocols.pop3 },
      previous: sa.protocols,
      version: sa.version + 1,
      updatedAt: expect.any(String),
    });
    expect(rb).toMatchObject({ account: b, status: 'unchanged', protocols: sb.protocols, version: sb.version });
    expect(rm).toMatchObject({ account: missing, status: 'not_found', error: { code: 'account_not_found' } });
  });

  it('returns a repeated account as an invalid duplicate_account item', async () => {
    const [, b] = accountsPair();
    const sb = await read(b);
    const res = await batch({
      items: [
        { account: b, protocols: { pop3: !sb.protocols.pop3 } },
        { account: b, protocols: { pop3: sb.protocols.pop3 } },
      ],
    });
    expect(res.status).toBe(200);
    expect(statuses(res)).toEqual(['applied', 'invalid']);
    expect(res.body.results[1].error.code).toBe('duplicate_account');
    expect((await read(b)).protocols.pop3).toBe(!sb.protocols.pop3);
  });

  it('reports an ifVersion mismatch as a conflict item, clobbering nothing, and applies a matching one', async () => {
    const [a, b] = accountsPair();
    const [sa, sb] = [await read(a), await read(b)];
    const res = await batch({
      items: [
        { account: a, protocols: { imap: !sa.protocols.imap }, ifVersion: sa.version + 100 },
        { account: b, protocols: { imap: !sb.protocols.imap }, ifVersion: sb.version },
      ],
    });
    expect(res.status).toBe(200);
    expect(statuses(res)).toEqual(['conflict', 'applied']);
    expect(res.body.summary).toMatchObject({ applied: 1, unchanged: 0, failed: 1 });
    expect(await read(a)).toMatchObject({ version: sa.version, protocols: sa.protocols });
  });

  it('answers 200 even when every item failed', async () => {
    const res = await batch({ items: [{ account: missing, protocols: { imap: true } }] });
    expect(res.status).toBe(200);
    expect(res.body.summary).toMatchObject({ applied: 0, unchanged: 0, failed: 1 });
  });

  it('refuses more than maxBatchItems items with 413 batch_too_large and maxItems, applying nothing', async () => {
    const [a, b] = accountsPair();
    const [sa, sb] = [await read(a), await read(b)];
    const max: number = capabilities.maxBatchItems;
    const items = [
      { account: a, protocols: { imap: !sa.protocols.imap } },
      { account: b, protocols: { imap: !sb.protocols.imap } },
      ...Array.from({ length: max - 1 }, (_, i) => ({ account: `filler-${i}-${missing}`, protocols: { imap: true } })),
    ];
    const res = await batch({ items });
    expectProblem(res, 413, 'batch_too_large');
    expect(res.body.maxItems).toBe(max);
    expect((await read(a)).version).toBe(sa.version);
    expect((await read(b)).version).toBe(sb.version);
  });
});

describe('idempotency', () => {
  it('replays the stored response for the same key and request, marked Idempotent-Replayed', async () => {
    const [a] = accountsPair();
    const before = await read(a);
    const key = freshKey('replay');
    const body = { protocols: { imap: !before.protocols.imap } };
    const first = await patch(a, body, key);
    expect(first.status).toBe(200);
    const replay = await patch(a, body, key);
    expect(replay.status).toBe(200);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.body).toEqual(first.body);
    expect((await read(a)).version).toBe(before.version + 1);
  });

  it('replays a batch with the same batchId and results', async () => {
    const [, b] = accountsPair();
    const sb = await read(b);
    const key = freshKey('batch-replay');
    const body = { items: [{ account: b, protocols: { imap: !sb.protocols.imap } }] };
    const first = await batch(body, key);
    const replay = await batch(body, key);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.body).toEqual(first.body);
    expect((await read(b)).version).toBe(sb.version + 1);
  });

  it('answers the same key for a different request with 422 idempotency_key_reused', async () => {
    const [a] = accountsPair();
    const before = await read(a);
    const key = freshKey('reuse');
    await patch(a, { protocols: { pop3: before.protocols.pop3 } }, key);
    expectProblem(await patch(a, { protocols: { pop3: !before.protocols.pop3 } }, key), 422, 'idempotency_key_reused');
    expect((await read(a)).protocols.pop3).toBe(before.protocols.pop3);
  });

  it('refuses a key over 255 characters with 400 invalid_idempotency_key', async () => {
    const [a] = accountsPair();
    const before = await read(a);
    const res = await patch(a, { protocols: { imap: !before.protocols.imap } }, 'k'.repeat(256));
    expectProblem(res, 400, 'invalid_idempotency_key');
    expect((await read(a)).version).toBe(before.version);
  });
});

describe('authentication', () => {
  it('answers a missing or unknown token with 401 unauthorized', async () => {
    expectProblem(await http.get('/capabilities', { token: null }), 401, 'unauthorized');
    expectProblem(await http.get('/capabilities', { token: `not-a-token-${Date.now()}` }), 401, 'unauthorized');
  });

  itReadOnly('answers a token without the scope with 403 forbidden, applying nothing', async () => {
    const [a] = accountsPair();
    const before = await read(a);
    const res = await http.call('PATCH', accessPath(a), {
      body: { protocols: { imap: !before.protocols.imap } },
      token: target.readOnlyToken ?? process.env.MAILSTORE_READONLY_TOKEN,
      idempotencyKey: freshKey('forbidden'),
    });
    expectProblem(res, 403, 'forbidden');
    expect((await read(a)).version).toBe(before.version);
  });
});

describe('sessions', () => {
  it('revokes sessions on PATCH only when a protocol goes from on to off', async () => {
    const [a] = accountsPair();
    await patch(a, { protocols: { imap: true } });
    await setSimSessions(a, 2);
    const turnOn = await patch(a, { protocols: { imap: true }, revokeSessions: true });
    expect(turnOn.body).toMatchObject({ ...PATCH_RESULT, changed: false });
    expect({ sessions: turnOn.body.sessions }).toEqual({ sessions: sessionsAnswer(false) });
    const turnOff = await patch(a, { protocols: { imap: false }, revokeSessions: true });
    expect(turnOff.body.changed).toBe(true);
    expect(turnOff.body.sessions).toEqual(target.simulated ? 'revoked' : sessionsAnswer(true));
  });

  it('revokes sessions in a batch only for items going from on to off', async () => {
    const [a, b] = accountsPair();
    await batch({
      items: [
        { account: a, protocols: { imap: true } },
        { account: b, protocols: { imap: false } },
      ],
    });
    await setSimSessions(a, 1);
    await setSimSessions(b, 1);
    const res = await batch({
      items: [
        { account: a, protocols: { imap: false } },
        { account: b, protocols: { imap: true } },
      ],
      revokeSessions: true,
    });
    expect(statuses(res)).toEqual(['applied', 'applied']);
    expect((res.body.results as { sessions?: unknown }[]).map((r) => ({ sessions: r.sessions }))).toEqual([
      { sessions: target.simulated ? 'revoked' : sessionsAnswer(true) },
      { sessions: sessionsAnswer(false) },
    ]);
  });

  it('answers DELETE sessions with revoked|none, and 404 for an unknown account', async () => {
    const [a] = accountsPair();
    const res = await http.call('DELETE', sessionsPath(a), { idempotencyKey: freshKey('kick') });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ ...SESSIONS_RESULT, account: a });
    expectProblem(
      await http.call('DELETE', sessionsPath(missing), { idempotencyKey: freshKey('kick') }),
      404,
      'account_not_found',
    );
  });
});

describe('overload and faults (simulator only)', () => {
  afterEach(async () => {
    if (target.simulated) await admin('PUT', '/faults', {});
  });

  itSim('answers over the rate limit with 429, an integer Retry-After and a rate_limited body', async () => {
    // The burst plus 3 s worth of refill: a 429 must come even if the machine is slow to send them.
    const burst = Math.ceil(capabilities.rateLimits.requestBurst + 3 * capabilities.rateLimits.requestsPerSecond) + 10;
    const answers = await Promise.all(
      Array.from({ length: burst }, () => http.get('/capabilities', { followRetryAfter: false })),
    );
    const limited = answers.find((r) => r.status === 429);
    expect(limited).toBeDefined();
    expectProblem(limited!, 429, 'rate_limited');
    expect(limited!.headers['retry-after']).toMatch(/^[1-9]\d*$/);
    expect(limited!.body).toMatchObject({
      retryAfterSeconds: Number(limited!.headers['retry-after']),
      limit: 'requests',
    });
    expect(limited!.headers['ratelimit-policy']).toBeDefined();
    await pollUntil(async () => (await http.get('/capabilities', { followRetryAfter: false })).status === 200, {
      timeoutMs: 10_000,
      intervalMs: 250,
      description: 'request budget back',
    });
    // And full again, for the next test: one request's worth is not enough for its read and its PATCH.
    const { requestBurst, requestsPerSecond } = capabilities.rateLimits;
    await new Promise((resolve) => setTimeout(resolve, (1000 * requestBurst) / requestsPerSecond));
  });

  itSim('answers 503 with Retry-After when unavailable, applying nothing', async () => {
    const [a] = accountsPair();
    const before = await read(a);
    await admin('PUT', '/faults', { script: ['503'], retryAfterSeconds: 2 });
    const res = await http.call('PATCH', accessPath(a), {
      body: { protocols: { imap: !before.protocols.imap } },
      idempotencyKey: freshKey('503'),
      followRetryAfter: false,
    });
    expectProblem(res, 503, 'unavailable');
    expect(res.headers['retry-after']).toBe('2');
    expect((await read(a)).version).toBe(before.version);
  });

  itSim('applies once when a 500 is retried with the same key', async () => {
    const [a] = accountsPair();
    const before = await read(a);
    await admin('PUT', '/faults', { script: ['500'] });
    const key = freshKey('500');
    const body = { protocols: { imap: !before.protocols.imap } };
    expectProblem(await patch(a, body, key), 500, 'internal');
    const retry = await patch(a, body, key);
    expect(retry.body).toMatchObject({ changed: true, version: before.version + 1 });
    expect((await read(a)).version).toBe(before.version + 1);
  });

  itSim('replays the stored answer when the response to an applied change was lost', async () => {
    const [a] = accountsPair();
    const before = await read(a);
    await admin('PUT', '/faults', { script: ['drop_after_apply'] });
    const key = freshKey('drop');
    const body = { items: [{ account: a, protocols: { imap: !before.protocols.imap } }] };
    await expect(batch(body, key)).rejects.toThrow();
    const retry = await batch(body, key);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(retry.body.results[0]).toMatchObject({ status: 'applied', version: before.version + 1 });
    expect((await read(a)).version).toBe(before.version + 1);
  });

  itSim('answers 409 idempotency_in_progress with Retry-After while the same key runs', async () => {
    const [a] = accountsPair();
    const before = await read(a);
    // A hang holds the key until the client gives up: deterministic however busy the machine is.
    await admin('PUT', '/faults', { script: ['hang'], hangMs: 30_000, endpoints: ['patch'] });
    const key = freshKey('in-progress');
    const body = { protocols: { pop3: !before.protocols.pop3 } };
    const giveUp = new AbortController();
    const first = http.call('PATCH', accessPath(a), { body, idempotencyKey: key, signal: giveUp.signal });
    await pollUntil(
      async () => ((await admin('GET', '/calls')).calls as Json[]).some((c) => c.idempotencyKey === key),
      { description: 'first request arrived' },
    );
    const second = await patch(a, body, key);
    expectProblem(second, 409, 'idempotency_in_progress');
    expect(second.headers['retry-after']).toMatch(/^[1-9]\d*$/);
    giveUp.abort();
    await expect(first).rejects.toThrow();
    const retry = await pollUntil(
      async () => {
        const res = await patch(a, body, key);
        return res.status === 200 ? res : false;
      },
      { description: 'key released after the client gave up' },
    );
    expect(retry.body).toMatchObject({ changed: true, version: before.version + 1 });
  });
});

async function setSimSessions(account: string, count: number): Promise<void> {
  if (target.simulated) await admin('POST', `/accounts/${encodeURIComponent(account)}/sessions`, { count });
}

async function admin(method: string, path: string, body?: unknown): Promise<Json> {
  const res = await request(`${target.adminUrl}${path}`, {
    method: method as 'GET',
    body: body === undefined ? undefined : JSON.stringify(body),
    headers: { 'content-type': 'application/json' },
    dispatcher: adminAgent,
  });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`admin ${method} ${path}: ${res.statusCode} ${text}`);
  return JSON.parse(text);
}

describe("the suite's reading of the contract (docs/provisioning-contract-notes.md)", () => {
  // The contract's own examples (section 2), as an implementation may answer them.
  const exampleCapabilities = {
    protocols: ['imap', 'pop3'],
    maxBatchItems: 500,
    revokeSessions: true,
    conditionalUpdates: true,
    idempotencyKeyTtlSeconds: 86400,
    propagation: { mode: 'immediate', maxSeconds: 300 },
    rateLimits: { requestsPerSecond: 20, requestBurst: 40, accountUpdatesPerSecond: 200, accountUpdateBurst: 500 },
  };
  const exampleState = { account: 'a@dom', protocols: { imap: true, pop3: false }, version: 7, updatedAt: 'x' };
  const without = <T extends object>(o: T, key: keyof T) =>
    Object.fromEntries(Object.entries(o).filter(([k]) => k !== key));

  it('accepts fields beyond the promised ones, at any depth', () => {
    expect({ ...exampleCapabilities, vendor: 'gateway 2.1' }).toMatchObject(CAPABILITIES);
    expect({
      ...exampleCapabilities,
      rateLimits: { ...exampleCapabilities.rateLimits, concurrentRequests: 4 },
      propagation: { ...exampleCapabilities.propagation, flushes: true },
    }).toMatchObject(CAPABILITIES);
    expect({ ...exampleState, provider: 'dovecot' }).toMatchObject(ACCESS_STATE);
  });

  it('refuses an answer without a promised field', () => {
    for (const key of Object.keys(CAPABILITIES) as (keyof typeof exampleCapabilities)[]) {
      expect(() => expect(without(exampleCapabilities, key)).toMatchObject(CAPABILITIES)).toThrow();
    }
    const rates = without(exampleCapabilities.rateLimits, 'accountUpdateBurst');
    expect(() => expect({ ...exampleCapabilities, rateLimits: rates }).toMatchObject(CAPABILITIES)).toThrow();
    const mode = without(exampleCapabilities.propagation, 'maxSeconds');
    expect(() => expect({ ...exampleCapabilities, propagation: mode }).toMatchObject(CAPABILITIES)).toThrow();
    for (const key of Object.keys(ACCESS_STATE) as (keyof typeof exampleState)[]) {
      expect(() => expect(without(exampleState, key)).toMatchObject(ACCESS_STATE)).toThrow();
    }
    expect(() => expect(exampleState).toMatchObject(PATCH_RESULT)).toThrow(); // no `changed`
    expect(() => expect({ account: 'a@dom' }).toMatchObject(SESSIONS_RESULT)).toThrow();
  });

  it('lets `sessions` be left out only where nothing was turned off, and never "revoked" there', () => {
    const answers = [undefined, 'none', 'revoked'];
    const accepted = (turnedOff: boolean) =>
      answers.filter((sessions) => {
        try {
          expect({ sessions }).toEqual({ sessions: sessionsAnswer(turnedOff) });
          return true;
        } catch {
          return false;
        }
      });
    expect({ nothingTurnedOff: accepted(false), turnedOff: accepted(true) }).toEqual({
      nothingTurnedOff: [undefined, 'none'],
      turnedOff: ['none', 'revoked'],
    });
  });
});
