/**
 * Fault modes of the simulator: the client's outcome for one attempt, and withRetries' behaviour over
 * several (waits measured on the simulator's call log, effects on its account state).
 */
import { once } from 'node:events';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { pollUntil, SimClients } from '@app/testing';
import { MailstoreClient } from './mailstore.client';
import { withRetries } from './retry';

const U1 = 'user1@example.test';
const U2 = 'user2@example.test';

const sims = new SimClients();
const setup = sims.start;
afterEach(() => sims.closeAll());

const fast = { baseBackoffMs: 20, maxBackoffMs: 100 };
const enable = { protocols: { imap: true } };

describe('fault modes', () => {
  it.each([
    ['429', 'rate_limited'],
    ['503', 'unavailable'],
  ] as const)('%s: retried no sooner than Retry-After, same key, applied once', async (fault, kind) => {
    const { sim, client } = await setup({ faults: { script: [fault], retryAfterSeconds: 1, endpoints: ['patch'] } });
    expect((await client.capabilities()).kind).toBe('ok');
    const v = sim.account(U1)!.version;
    const seen: string[] = [];
    const out = await withRetries(() => client.patchAccess(U1, enable, { idempotencyKey: 'wave-1/u1' }), {
      ...fast,
      onWait: (w) => seen.push(w.outcome.kind),
    });
    expect(seen).toEqual([kind]);
    expect(out).toMatchObject({ kind: 'ok', replayed: false, value: { changed: true } });
    const [first, second] = sim.calls().filter((c) => c.endpoint === 'patch');
    expect(first).toMatchObject({ status: Number(fault), idempotencyKey: 'wave-1/u1', applied: [] });
    expect(second).toMatchObject({ status: 200, idempotencyKey: 'wave-1/u1', applied: [U1] });
    expect(second.startedAt - first.endedAt!).toBeGreaterThanOrEqual(1_000);
    // The Retry-After once, plus at most 20 % jitter.
    expect(second.startedAt - first.endedAt!).toBeLessThan(2_000);
    expect(sim.account(U1)?.version).toBe(v + 1);
  });

  it('500: retried with backoff and the same key, the change applied exactly once', async () => {
    const { sim, client } = await setup({ faults: { script: ['500', '500'], endpoints: ['batch'] } });
    const items = [U1, U2].map((account) => ({ account, protocols: { imap: true, pop3: true } }));
    const first = await client.batch(items, {}, { idempotencyKey: 'wave-1/batch-1' });
    expect(first).toMatchObject({ kind: 'retryable', status: 500, code: 'internal', outcomeUnknown: true });
    const out = await withRetries(() => client.batch(items, {}, { idempotencyKey: 'wave-1/batch-1' }), fast);
    expect(out).toMatchObject({ kind: 'ok', value: { summary: { applied: 2, failed: 0 } } });
    const calls = sim.calls();
    expect(calls.map((c) => c.status)).toEqual([500, 500, 200]);
    expect(new Set(calls.map((c) => c.idempotencyKey))).toEqual(new Set(['wave-1/batch-1']));
    expect(calls.flatMap((c) => c.applied).sort()).toEqual([U1, U2]);
  });

  it('a hung request ends as retryable/timeout within the configured timeout; the retry succeeds', async () => {
    const { sim, client } = await setup(
      { faults: { script: ['hang'], hangMs: 30_000, endpoints: ['patch'] } },
      { requestTimeoutMs: 500 },
    );
    const one = await client.patchAccess(U1, enable, { idempotencyKey: 'h-1' });
    expect(one).toMatchObject({ kind: 'retryable', code: 'timeout', outcomeUnknown: true });
    expect(one.latencyMs).toBeGreaterThanOrEqual(490);
    expect(one.latencyMs).toBeLessThan(1_500);
    const out = await withRetries(() => client.patchAccess(U1, enable, { idempotencyKey: 'h-1' }), fast);
    expect(out).toMatchObject({ kind: 'ok', value: { changed: true } });
    expect(sim.calls().map((c) => c.idempotencyKey)).toEqual(['h-1', 'h-1']);
    expect(sim.calls().flatMap((c) => c.applied)).toEqual([U1]);
  });

  it('applied but the answer lost: the retry with the same key is replayed, the account changed once', async () => {
    const { sim, client } = await setup({ faults: { script: ['drop_after_apply'], endpoints: ['patch'] } });
    const v = sim.account(U1)!.version;
    const lost = await client.patchAccess(U1, enable, { idempotencyKey: 'd-1' });
    expect(lost).toMatchObject({ kind: 'retryable', code: 'connection_reset', outcomeUnknown: true });
    expect(sim.account(U1)?.version).toBe(v + 1);
    const out = await withRetries(() => client.patchAccess(U1, enable, { idempotencyKey: 'd-1' }), fast);
    expect(out).toMatchObject({ kind: 'ok', replayed: true, value: { changed: true, version: v + 1 } });
    expect(sim.account(U1)?.version).toBe(v + 1);
    expect(sim.calls().flatMap((c) => c.applied)).toEqual([U1]);
  });

  it('a batch whose answer was lost is replayed with its per-item results', async () => {
    const { sim, client } = await setup({ faults: { script: ['drop_after_apply'], endpoints: ['batch'] } });
    const items = [{ account: U1, protocols: { pop3: true } }];
    const out = await withRetries(() => client.batch(items, {}, { idempotencyKey: 'db-1' }), fast);
    expect(out).toMatchObject({ kind: 'ok', replayed: true, value: { results: [{ account: U1, status: 'applied' }] } });
    expect(sim.calls().map((c) => c.outcome)).toEqual(['dropped_after_apply', 'replayed']);
  });

  it('409 idempotency_in_progress while the first attempt with the key is still running', async () => {
    const { sim, client } = await setup({ faults: { latencyMs: 1500, endpoints: ['patch'] } });
    const first = client.patchAccess(U1, enable, { idempotencyKey: 'ip-1' });
    // The simulator names the call's accounts in the same tick as it claims the key, before its latency: the second
    // request surely finds the key taken (a fixed 150 ms wait did not, when the first request was late).
    await pollUntil(() => sim.calls().some((c) => c.idempotencyKey === 'ip-1' && c.accounts.length > 0), {
      description: 'the first PATCH holding its key',
    });
    const second = await client.patchAccess(U1, enable, { idempotencyKey: 'ip-1' });
    expect(second).toMatchObject({ kind: 'in_progress', status: 409 });
    expect((await first).kind).toBe('ok');
  });

  it('unreachable (connections destroyed) is a retryable connection failure, bounded by maxAttempts', async () => {
    const { sim, client } = await setup({ faults: { unreachable: true } });
    const out = await withRetries(() => client.patchAccess(U1, enable, { idempotencyKey: 'u-1' }), {
      ...fast,
      maxAttempts: 3,
    });
    expect(out).toMatchObject({ kind: 'retryable', code: 'connection_reset', outcomeUnknown: true });
    expect(sim.calls()).toHaveLength(3);
    expect(sim.calls().flatMap((c) => c.applied)).toEqual([]);
  });

  it('nothing listening is connection_refused: nothing can have been applied', async () => {
    const probe = createServer().listen(0, '127.0.0.1');
    await once(probe, 'listening');
    const port = (probe.address() as AddressInfo).port;
    probe.close();
    await once(probe, 'close');
    const client = new MailstoreClient({ baseUrl: `http://127.0.0.1:${port}/v1`, token: 't', connectTimeoutMs: 500 });
    sims.closeLater(client);
    const out = await client.patchAccess(U1, enable, { idempotencyKey: 'r-1' });
    expect(out).toMatchObject({ kind: 'retryable', code: 'connection_refused', outcomeUnknown: false });
  });
});
