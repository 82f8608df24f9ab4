import {
  checkCapabilities,
  withRetries,
  type AccessRead,
  type BatchItem,
  type BatchOptions,
  type BatchResult,
  type Mailstore,
  type Outcome,
} from '@app/mailstore';
import { DRIVER_TARGETS, type DriverTarget } from './driver-targets';

/**
 * The promises every mailstore driver keeps (libs/mailstore/src/mailstore.ts), checked through the `Mailstore`
 * interface the engine uses, against every target of driver-targets.ts: the simulator over HTTP, dovecot-sql on
 * PostgreSQL and on MariaDB (both layouts, with and without a version column). What the contract allows, the suite
 * accepts: a replay may be answered from an idempotency store (`replayed`, the first answer again) or by the
 * desired state itself (`unchanged`); `sessions` may be left out of an item where nothing was turned off.
 */

let keys = 0;
const key = (label: string) => `conformance/${label}/${Date.now().toString(36)}-${++keys}`;

describe.each(DRIVER_TARGETS)('driver conformance: $name', (factory) => {
  let t: DriverTarget;
  let m: Mailstore;
  let a: string;
  let b: string;
  let c: string;

  beforeAll(async () => {
    t = await factory.start();
    m = t.mailstore;
    [a, b, c] = t.accounts;
  });

  afterAll(async () => {
    await t?.close();
  });

  /** Only 429/503 are waited out (the simulator's rate limits); any other failure is the answer under test. */
  const settle = <T>(call: () => Promise<Outcome<T>>) => withRetries(call, { maxAttempts: 1 });

  async function read(account: string): Promise<AccessRead> {
    const out = await settle(() => m.getAccess(account));
    if (out.kind !== 'ok') throw new Error(`getAccess(${account}): ${JSON.stringify(out)}`);
    return out.value;
  }

  async function batch(items: BatchItem[], opts: BatchOptions = {}, k = key('batch')): Promise<Outcome<BatchResult>> {
    return settle(() => m.batch(items, opts, { idempotencyKey: k }));
  }

  function ok<T>(out: Outcome<T>): T {
    if (out.kind !== 'ok') throw new Error(`expected ok, got ${JSON.stringify(out)}`);
    return out.value;
  }

  it('advertises valid capabilities', async () => {
    const caps = ok(await settle(() => m.capabilities()));
    expect(checkCapabilities(caps)).toEqual({ ok: true, value: caps });
    expect(caps.protocols).toEqual(expect.arrayContaining(['imap', 'pop3']));
    expect(m.cachedCapabilities()).toEqual(caps);
    expect(m.batchSizeLimit()).toBeGreaterThanOrEqual(1);
    expect(m.propagationDelayMs()).toBeGreaterThanOrEqual(0);
  });

  it('reads an account, and answers an unknown one with 404 account_not_found', async () => {
    const state = await read(a);
    expect(state).toEqual({
      account: a,
      protocols: { imap: expect.any(Boolean), pop3: expect.any(Boolean) },
      version: expect.any(Number),
      updatedAt: expect.any(String),
      etag: state.version,
    });
    expect(await settle(() => m.getAccess(t.missing))).toMatchObject({
      kind: 'permanent',
      status: 404,
      code: 'account_not_found',
    });
  });

  it('writes the desired state with the previous one; a replay and a repeat change nothing', async () => {
    const before = await read(a);
    const items = [{ account: a, protocols: { imap: !before.protocols.imap } }];
    const k = key('desired');
    const first = ok(await batch(items, {}, k));
    expect(first.results[0]).toMatchObject({
      account: a,
      status: 'applied',
      previous: before.protocols,
      protocols: { imap: !before.protocols.imap, pop3: before.protocols.pop3 },
    });
    const after = await read(a);
    expect(after.protocols).toEqual({ imap: !before.protocols.imap, pop3: before.protocols.pop3 });
    if (t.countingVersions) expect(after.version).toBe(before.version + 1);
    else expect(after.version).not.toBe(before.version);
    expect(first.results[0].version).toBe(after.version);

    // The engine's retry: same key, same items.
    const replay = await batch(items, {}, k);
    const replayed = ok(replay);
    const expected = replay.kind === 'ok' && replay.replayed ? 'applied' : 'unchanged';
    expect(replayed.results[0]).toMatchObject({ account: a, status: expected, version: after.version });
    // Another operation wanting the same state.
    expect(ok(await batch(items)).results[0]).toMatchObject({
      status: 'unchanged',
      previous: after.protocols,
      protocols: after.protocols,
      version: after.version,
    });
    expect(await read(a)).toMatchObject({ protocols: after.protocols, version: after.version });
  });

  it('touches only the protocols named', async () => {
    const before = await read(b);
    const out = ok(
      await settle(() =>
        m.patchAccess(b, { protocols: { pop3: !before.protocols.pop3 } }, { idempotencyKey: key('patch') }),
      ),
    );
    expect(out).toMatchObject({
      account: b,
      changed: true,
      protocols: { imap: before.protocols.imap, pop3: !before.protocols.pop3 },
    });
    expect((await read(b)).protocols.imap).toBe(before.protocols.imap);
  });

  it('answers a stale ifVersion with a conflict carrying the current state, keeping the other writer’s change', async () => {
    const ours = ok(await batch([{ account: c, protocols: { imap: true, pop3: false } }])).results[0];
    // Somebody else (support, an operator) changes c after our write …
    await t.changeElsewhere(c, { imap: true, pop3: true });
    const theirs = await read(c);
    // … so our rollback, conditional on the version our write produced, must not clobber it.
    const rollback = ok(await batch([{ account: c, protocols: { imap: false }, ifVersion: ours.version }]));
    expect(rollback.results[0]).toMatchObject({
      account: c,
      status: 'conflict',
      protocols: { imap: true, pop3: true },
      version: theirs.version,
      error: { code: 'version_mismatch' },
    });
    expect(rollback.summary).toEqual({ applied: 0, unchanged: 0, failed: 1 });
    expect(await read(c)).toMatchObject({ protocols: { imap: true, pop3: true }, version: theirs.version });
    // With the current version the same write applies.
    const current = ok(await batch([{ account: c, protocols: { imap: false }, ifVersion: theirs.version }]));
    expect(current.results[0]).toMatchObject({ status: 'applied', protocols: { imap: false, pop3: true } });
  });

  it('refuses a stale If-Match on a single write with 412 version_mismatch and the current version', async () => {
    const now = await read(c);
    const stale = await settle(() =>
      m.patchAccess(
        c,
        { protocols: { pop3: !now.protocols.pop3 } },
        { idempotencyKey: key('if-match'), ifMatch: now.version + 100 },
      ),
    );
    expect(stale).toMatchObject({
      kind: 'permanent',
      status: 412,
      code: 'version_mismatch',
      currentVersion: now.version,
    });
    expect(await read(c)).toEqual({ ...now, updatedAt: expect.any(String) });
    expect(
      await settle(() => m.patchAccess(t.missing, { protocols: { imap: true } }, { idempotencyKey: key('missing') })),
    ).toMatchObject({ kind: 'permanent', status: 404, code: 'account_not_found' });
  });

  it('answers each item of a partial batch on its own, in order', async () => {
    const [sa, sb] = [await read(a), await read(b)];
    const out = ok(
      await batch([
        { account: a, protocols: { pop3: !sa.protocols.pop3 } },
        { account: b, protocols: { ...sb.protocols } },
        { account: t.missing, protocols: { imap: true } },
        { account: a, protocols: { pop3: sa.protocols.pop3 } },
      ]),
    );
    expect(out.results.map((r) => [r.account, r.status])).toEqual([
      [a, 'applied'],
      [b, 'unchanged'],
      [t.missing, 'not_found'],
      [a, 'invalid'],
    ]);
    expect(out.results[2].error?.code).toBe('account_not_found');
    expect(out.results[3].error?.code).toBe('duplicate_account');
    expect(out.summary).toEqual({ applied: 1, unchanged: 1, failed: 2 });
    expect((await read(a)).protocols.pop3).toBe(!sa.protocols.pop3);
  });

  it('refuses more than maxBatchItems items with 413 batch_too_large, applying nothing', async () => {
    const max = m.cachedCapabilities()!.maxBatchItems;
    const before = await read(b);
    const items = [
      { account: b, protocols: { imap: !before.protocols.imap } },
      ...Array.from({ length: max }, (_, i) => ({ account: `filler-${i}-${t.missing}`, protocols: { imap: true } })),
    ];
    expect(await batch(items)).toMatchObject({
      kind: 'permanent',
      status: 413,
      code: 'batch_too_large',
      maxItems: max,
    });
    expect((await read(b)).version).toBe(before.version);
  });

  it('revokes live sessions of items turned from on to off, and only those', async () => {
    if (!m.cachedCapabilities()!.revokeSessions) return; // nothing to revoke through: the capability says so
    ok(
      await batch([
        { account: a, protocols: { imap: true } },
        { account: b, protocols: { imap: false } },
      ]),
    );
    const session = await t.openSession(a);
    try {
      const out = ok(
        await batch(
          [
            { account: a, protocols: { imap: false } },
            { account: b, protocols: { imap: true } },
          ],
          { revokeSessions: true },
        ),
      );
      expect(out.results[0]).toMatchObject({ status: 'applied', sessions: 'revoked' });
      expect(out.results[1].status).toBe('applied');
      expect([undefined, 'none']).toContain(out.results[1].sessions);
      expect(await session.ended(2_000)).toBe(true);
    } finally {
      session.close();
    }
    const direct = ok(await settle(() => m.revokeSessions(b, { idempotencyKey: key('kick') })));
    expect(direct).toEqual({ account: b, sessions: expect.stringMatching(/^(revoked|none)$/) });
    expect(await settle(() => m.revokeSessions(t.missing, { idempotencyKey: key('kick') }))).toMatchObject({
      kind: 'permanent',
      status: 404,
      code: 'account_not_found',
    });
  });

  it('answers an unreachable backend with retryable outcomes, applying nothing and throwing nothing', async () => {
    const down = await t.unreachable();
    try {
      const read = await down.getAccess(a);
      expect(read).toMatchObject({ kind: 'retryable', outcomeUnknown: false });
      const write = await down.batch([{ account: a, protocols: { imap: true } }], {}, { idempotencyKey: key('down') });
      expect(write).toMatchObject({ kind: 'retryable', outcomeUnknown: false });
    } finally {
      await down.close();
    }
  });
});
