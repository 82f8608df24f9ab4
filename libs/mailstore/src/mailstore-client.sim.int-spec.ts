/**
 * The client and withRetries against the real simulator over real HTTP, one fault mode per test.
 * Timings are asserted on the simulator's call log; effects on its account state.
 */
import type { RunningSimulator } from '@app/mailstore-sim';
import { SimClients } from '@app/testing';
import { request } from 'undici';
import { MailstoreClient } from './mailstore.client';
import { withRetries } from './retry';

const U1 = 'user1@example.test';
const U2 = 'user2@example.test';
const U3 = 'user3@example.test';

const sims = new SimClients();
const setup = sims.start;
afterEach(() => sims.closeAll());

/** Live sessions are simulated: the admin API sets them. */
async function setSessions(sim: RunningSimulator, account: string, count: number): Promise<void> {
  const res = await request(`${sim.adminUrl}/accounts/${encodeURIComponent(account)}/sessions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ count }),
  });
  await res.body.dump();
  expect(res.statusCode).toBe(200);
}

/** Fast retries for tests; Retry-After waits stay real (that is what is asserted). */
const fast = { baseBackoffMs: 20, maxBackoffMs: 100 };

describe('MailstoreClient against the simulator: contract paths', () => {
  it('reads, patches, batches and revokes; a replayed desired state changes nothing', async () => {
    const { sim, client } = await setup();
    const before = sim.account(U1)!;
    const read = await client.getAccess(U1);
    expect(read).toMatchObject({ kind: 'ok', value: { account: U1, version: before.version, etag: before.version } });

    const on = await client.patchAccess(U1, { protocols: { imap: true } }, { idempotencyKey: 'p-1', requestId: 'r-1' });
    expect(on).toMatchObject({ kind: 'ok', value: { changed: true, protocols: { imap: true } } });
    const again = await client.patchAccess(U1, { protocols: { imap: true } }, { idempotencyKey: 'p-2' });
    expect(again).toMatchObject({ kind: 'ok', replayed: false, value: { changed: false } });
    expect(sim.account(U1)).toMatchObject({ protocols: { imap: true }, version: before.version + 1 });
    expect(sim.calls().find((c) => c.idempotencyKey === 'p-1')).toMatchObject({ requestId: 'r-1', applied: [U1] });

    const batch = await client.batch(
      [
        { account: U2, protocols: { imap: true, pop3: true } },
        { account: U1, protocols: { imap: true } },
      ],
      { reason: 'wave-1' },
      { idempotencyKey: 'b-1' },
    );
    expect(batch).toMatchObject({
      kind: 'ok',
      value: {
        summary: { applied: 1, unchanged: 1, failed: 0 },
        results: [
          { account: U2, status: 'applied', protocols: { imap: true, pop3: true } },
          { account: U1, status: 'unchanged' },
        ],
      },
    });
    expect(sim.account(U2)?.protocols).toEqual({ imap: true, pop3: true });

    await setSessions(sim, U2, 3);
    const revoke = await client.revokeSessions(U2, { idempotencyKey: 's-1' });
    expect(revoke).toMatchObject({ kind: 'ok', value: { account: U2, sessions: 'revoked' } });
    expect(sim.account(U2)?.sessions).toBe(0);
  });

  it('revokeSessions in a batch revokes only where a protocol went from on to off', async () => {
    const { sim, client } = await setup();
    await client.batch(
      [U1, U2].map((account) => ({ account, protocols: { imap: true } })),
      {},
      { idempotencyKey: 'on' },
    );
    await setSessions(sim, U1, 2);
    await setSessions(sim, U2, 2);
    const out = await client.batch(
      [
        { account: U1, protocols: { imap: false } },
        { account: U2, protocols: { imap: true } },
      ],
      { revokeSessions: true, reason: 'rollback' },
      { idempotencyKey: 'off' },
    );
    expect(out).toMatchObject({
      kind: 'ok',
      value: {
        results: [
          { account: U1, status: 'applied', previous: { imap: true }, protocols: { imap: false }, sessions: 'revoked' },
          { account: U2, status: 'unchanged' },
        ],
      },
    });
    expect([sim.account(U1)?.sessions, sim.account(U2)?.sessions]).toEqual([0, 2]);
  });

  it('sizes batches and verification delays from capabilities', async () => {
    const { client } = await setup({
      maxBatchItems: 300,
      rateLimits: { requestsPerSecond: 20, requestBurst: 40, accountUpdatesPerSecond: 200, accountUpdateBurst: 250 },
      propagation: { mode: 'eventual', maxSeconds: 300 },
    });
    expect(await client.capabilities()).toMatchObject({ kind: 'ok', value: { maxBatchItems: 300 } });
    expect(client.batchSizeLimit()).toBe(250);
    expect(client.propagationDelayMs()).toBe(300_000);
  });

  it('404 account_not_found; per-item not_found and conflict; ifVersion never clobbers', async () => {
    const { sim, client } = await setup({ faults: { notFoundAccounts: [U2], conflictAccounts: [U3] } });
    expect(await client.getAccess('nobody@example.test')).toMatchObject({
      kind: 'permanent',
      status: 404,
      code: 'account_not_found',
    });
    // U1 moves on (support re-enabled it) after we read version v.
    const v = sim.account(U1)!.version;
    await client.patchAccess(U1, { protocols: { pop3: true } }, { idempotencyKey: 'support-1' });
    const u3 = sim.account(U3)!;
    const out = await client.batch(
      [
        { account: U1, protocols: { pop3: false }, ifVersion: v },
        { account: U2, protocols: { imap: true } },
        { account: U3, protocols: { imap: true }, ifVersion: u3.version },
      ],
      { reason: 'rollback' },
      { idempotencyKey: 'rb-1' },
    );
    expect(out).toMatchObject({
      kind: 'ok',
      status: 200,
      value: {
        summary: { applied: 0, unchanged: 0, failed: 3 },
        results: [
          { account: U1, status: 'conflict' },
          { account: U2, status: 'not_found' },
          { account: U3, status: 'conflict' },
        ],
      },
    });
    expect(sim.account(U1)?.protocols.pop3).toBe(true);
    expect(sim.account(U3)).toEqual(u3);
  });

  it('412 version_mismatch with currentVersion on a stale If-Match', async () => {
    const { sim, client } = await setup();
    const v = sim.account(U1)!.version;
    await client.patchAccess(U1, { protocols: { imap: true } }, { idempotencyKey: 'k-1' });
    const out = await client.patchAccess(U1, { protocols: { imap: false } }, { idempotencyKey: 'k-2', ifMatch: v });
    expect(out).toMatchObject({ kind: 'permanent', status: 412, code: 'version_mismatch', currentVersion: v + 1 });
    expect(sim.account(U1)?.protocols.imap).toBe(true);
  });

  it('413 batch_too_large with maxItems: nothing applied', async () => {
    const { sim, client } = await setup({ maxBatchItems: 2 });
    const items = [U1, U2, U3].map((account) => ({ account, protocols: { imap: true } }));
    const out = await client.batch(items, {}, { idempotencyKey: 'big-1' });
    expect(out).toMatchObject({ kind: 'permanent', status: 413, code: 'batch_too_large', maxItems: 2 });
    expect(sim.calls().flatMap((c) => c.applied)).toEqual([]);
  });

  it('422 idempotency_key_reused for the same key on another request', async () => {
    const { client } = await setup();
    await client.patchAccess(U1, { protocols: { imap: true } }, { idempotencyKey: 'same' });
    const out = await client.patchAccess(U1, { protocols: { imap: false } }, { idempotencyKey: 'same' });
    expect(out).toMatchObject({ kind: 'permanent', status: 422, code: 'idempotency_key_reused' });
  });

  it('401 and 403 are permanent and never retried', async () => {
    const { sim } = await setup({ tokens: { 'sim-token': ['access:read', 'access:write'], reader: ['access:read'] } });
    const wrong = new MailstoreClient({ baseUrl: sim.baseUrl, token: 'wrong' });
    const reader = new MailstoreClient({ baseUrl: sim.baseUrl, token: 'reader' });
    sims.closeLater(wrong, reader);
    const unauthorized = await withRetries(() => wrong.getAccess(U1), fast);
    expect(unauthorized).toMatchObject({ kind: 'permanent', status: 401, code: 'unauthorized' });
    const forbidden = await withRetries(
      () => reader.patchAccess(U1, { protocols: { imap: true } }, { idempotencyKey: 'f-1' }),
      fast,
    );
    expect(forbidden).toMatchObject({ kind: 'permanent', status: 403, code: 'forbidden' });
    expect(sim.calls().map((c) => c.status)).toEqual([401, 403]);
  });
});

describe('sendBy: written before the instant or not at all', () => {
  it('a request whose send window has passed never reaches the mailstore, and says so', async () => {
    const { sim, client } = await setup();
    await client.capabilities();
    const late = await client.batch(
      [{ account: U1, protocols: { imap: true } }],
      {},
      {
        idempotencyKey: 'send-by-late',
        sendBy: performance.now() - 1,
      },
    );
    expect(late).toMatchObject({ kind: 'retryable', code: 'send_window_missed', outcomeUnknown: false });
    expect(sim.calls().filter((c) => c.endpoint === 'batch')).toEqual([]);
    expect(sim.account(U1)!.protocols.imap).toBe(false);

    const onTime = await client.batch(
      [{ account: U1, protocols: { imap: true } }],
      {},
      {
        idempotencyKey: 'send-by-on-time',
        sendBy: performance.now() + 5_000,
      },
    );
    expect(onTime.kind).toBe('ok');
    expect(sim.calls().filter((c) => c.endpoint === 'batch')).toHaveLength(1);
    expect(sim.account(U1)!.protocols.imap).toBe(true);
  });

  it('is checked when the request is written, not when it is asked for (a wait for a connection counts)', async () => {
    // One connection, held by a slow call: the second request waits for it and its window passes meanwhile.
    const { sim, client } = await setup({}, { connections: 1 });
    await client.capabilities();
    sim.setFaults({ latencyMs: 300, endpoints: ['batch'] });
    const slow = client.batch([{ account: U2, protocols: { imap: true } }], {}, { idempotencyKey: 'send-by-slow' });
    const queued = await client.batch(
      [{ account: U3, protocols: { imap: true } }],
      {},
      {
        idempotencyKey: 'send-by-queued',
        sendBy: performance.now() + 100,
      },
    );
    expect((await slow).kind).toBe('ok');
    expect(queued).toMatchObject({ kind: 'retryable', code: 'send_window_missed' });
    expect(sim.calls().filter((c) => c.idempotencyKey === 'send-by-queued')).toEqual([]);
    expect(sim.account(U3)!.protocols.imap).toBe(false);
  });
});
