import { QueryRunner } from 'typeorm';
import { aWave, countersFromTruth, createEngineHarness, EngineHarness, loginAllocator } from '@app/testing';
import { BatchItemResult } from '@app/mailstore';
import { BatchLeaseRepository } from './batch-lease.repository';
import { BatchPermits } from './batch-permits';
import { BatchSettleRepository } from './batch-settle.repository';
import { ClaimedBatch } from './batch.types';
import { ForwardBatchRepository } from './forward-batch.repository';
import { forwardSettlement } from './member-outcome';
import { SendPermitRepository } from './send-permit.repository';
import { PumpSlotRepository } from './pump-slot.repository';
import { Sql, sqlOf, sqlOfDataSource } from '../db/sql';
import { SendPermitFence } from '../permits';
import { OperationService } from '../support/operation.service';

const INCIDENT = new Date('2026-05-01T00:00:00Z');
const TIMES = { leaseMs: 15_000, windowMs: 200 };
const lease = new BatchLeaseRepository();
const forward = new ForwardBatchRepository();
const slots = new PumpSlotRepository();
const permits = new BatchPermits(new SendPermitRepository(), INCIDENT);
const settles = new BatchSettleRepository();
const fence = new SendPermitFence();
/** Writes a forward batch's answer as a pump does; false when the batch is no longer ours (nothing written). */
const settleForward = (sql: Sql, batch: ClaimedBatch, results: BatchItemResult[]) =>
  settles.settleForward(sql, batch, forwardSettlement(batch.members, results), undefined);

/**
 * The statements that keep a batch's record right whoever else touches it (issue 14), on a real PostgreSQL with no
 * worker running: every write names the lease generation it holds, and the send permit decides eligibility on the
 * accounts as they are when it commits, never waiting on a lock.
 */
describe('batch fencing and send permits (real PostgreSQL)', () => {
  let h: EngineHarness;
  let runner: QueryRunner;
  let sql: Sql;
  let support: OperationService;
  const logins = loginAllocator();

  beforeAll(async () => {
    h = await createEngineHarness('fencing', { accounts: 2000 });
    await h.importPopulation({ count: 2000, seed: 17, leakedShare: 0 });
    runner = h.db.dataSource.createQueryRunner();
    await runner.connect();
    sql = sqlOf(runner);
    support = new OperationService(h.db.dataSource, h.producer, INCIDENT);
  });
  afterAll(async () => {
    await runner.release();
    await h?.close();
  });

  /** A started wave (no worker: nothing runs unless the test does it) and its runtime fields. */
  async function runningWave(members: string[]) {
    const w = await aWave('fence').logins(members).protocols('imap').rate(100).started(h);
    const [row] = await sql<{ generation: number }>(`SELECT generation FROM waves WHERE id = $1`, [w.id]);
    return { id: w.id, protocols: ['imap' as const], generation: row.generation, stepLimitSeq: null };
  }
  const claim = async (wave: Awaited<ReturnType<typeof runningWave>>, size: number, worker = 'w1') =>
    (await forward.claim(sql, wave, size, worker, TIMES.leaseMs)).batch!;
  const expire = (batch: ClaimedBatch) =>
    sql(`UPDATE wave_batches SET lease_until = now() - interval '1 second' WHERE id = $1`, [batch.id]);
  const memberStates = async (waveId: string) =>
    Object.fromEntries(
      (
        await sql<{ state: string; n: string }>(
          `SELECT state, count(*) AS n FROM wave_members WHERE wave_id = $1 GROUP BY state`,
          [waveId],
        )
      ).map((r) => [r.state, Number(r.n)]),
    );

  it('a pump that lost its batch to a takeover cannot release, renew or settle it', async () => {
    const wave = await runningWave(logins(10));
    const mine = await claim(wave, 10);
    await expire(mine);
    const theirs = (await lease.takeOverStale(sql, wave.id, 'forward', 'w2', TIMES.leaseMs))!;
    expect(theirs.fence).toBe(mine.fence + 1);
    expect(await permits.first(sql, theirs, wave, TIMES)).toBe('granted');
    expect(
      await settleForward(
        sql,
        theirs,
        theirs.members.map((m) => ({ account: m.login, status: 'applied' as const, protocols: { imap: true } })),
      ),
    ).toBe(true);

    // The loser wakes up: every write of its own is refused and changes nothing.
    await lease.release(sql, mine);
    expect(await lease.extendLease(sql, mine, TIMES.leaseMs)).toBe(false);
    expect(
      await settleForward(
        sql,
        mine,
        mine.members.map((m) => ({ account: m.login, status: 'applied' as const })),
      ),
    ).toBe(false);
    expect(await memberStates(wave.id)).toEqual({ enabled: 10 });
    expect(await h.counters(wave.id)).toEqual(await countersFromTruth(h.db, wave.id));
    expect((await h.counters(wave.id)).enabled).toBe(10);
    const [b] = await sql<{ state: string; attempts: number }>(
      `SELECT state, attempts FROM wave_batches WHERE id = $1`,
      [mine.id],
    );
    expect(b).toEqual({ state: 'done', attempts: 1 });
  });

  it('a release by the owner hands never-sent members back, once', async () => {
    const wave = await runningWave(logins(6));
    const batch = await claim(wave, 6);
    await lease.release(sql, batch);
    await lease.release(sql, batch); // a second release (a retried statement) adds nothing
    expect(await memberStates(wave.id)).toEqual({ pending: 6 });
    expect(await h.counters(wave.id)).toEqual(await countersFromTruth(h.db, wave.id));
  });

  it('decides eligibility at the permit: an account leaked after the claim is skipped, not sent', async () => {
    const members = logins(4);
    const wave = await runningWave(members);
    const batch = await claim(wave, 4);
    await sql(`UPDATE accounts SET leaked = true, password_changed_at = NULL WHERE login = $1`, [members[1]]);
    await sql(`UPDATE accounts SET held = true WHERE login = $1`, [members[2]]);
    expect(await permits.first(sql, batch, wave, TIMES)).toBe('granted');
    expect(batch.members.map((m) => m.login)).toEqual([members[0], members[3]]);
    const reasons = await sql<{ login: string; state: string; reason: string | null }>(
      `SELECT a.login, m.state, m.reason FROM wave_members m JOIN accounts a ON a.id = m.account_id
        WHERE m.wave_id = $1 ORDER BY m.seq`,
      [wave.id],
    );
    expect(reasons).toEqual([
      { login: members[0], state: 'in_flight', reason: null },
      { login: members[1], state: 'skipped', reason: 'password_reset_required' },
      { login: members[2], state: 'skipped', reason: 'held' },
      { login: members[3], state: 'in_flight', reason: null },
    ]);
    const ledger = await sql<{ login: string; reason: string }>(
      `SELECT login, reason FROM audit_log WHERE wave_id = $1 AND action = 'member.skipped' ORDER BY login`,
      [wave.id],
    );
    expect(ledger.map((l) => l.reason).sort()).toEqual(['held', 'password_reset_required']);
    expect(await h.counters(wave.id)).toEqual(await countersFromTruth(h.db, wave.id));
  });

  it('refuses the permit when a hold commits between its read and its commit, and decides again', async () => {
    const members = logins(3);
    const wave = await runningWave(members);
    const batch = await claim(wave, 3);
    // Support holds an account right after the permit has read the accounts (another connection).
    let reads = 0;
    const racing: Sql = async (text, params) => {
      const rows = await sql(text, params);
      if (text.includes('eligibility_epoch WHERE id = 1) AS epoch') && reads++ === 0) {
        await support.setHold(members[0], true, { reason: 'fraud check', ticket: 'SEC-1' }, 'support:test');
      }
      return rows as never;
    };
    expect(await permits.first(racing, batch, wave, TIMES)).toBe('changed');
    expect(await memberStates(wave.id)).toEqual({ in_flight: 3 }); // nothing written
    expect(await permits.first(sql, batch, wave, TIMES)).toBe('granted');
    expect(batch.members.map((m) => m.login)).toEqual(members.slice(1));
    const [held] = await sql<{ state: string; reason: string }>(
      `SELECT m.state, m.reason FROM wave_members m JOIN accounts a ON a.id = m.account_id
        WHERE m.wave_id = $1 AND a.login = $2`,
      [wave.id, members[0]],
    );
    expect(held).toEqual({ state: 'skipped', reason: 'held' });
  });

  it('never waits on a lock: a command holding the wave row makes the permit busy at once', async () => {
    const wave = await runningWave(logins(3));
    const batch = await claim(wave, 3);
    const command = h.db.dataSource.createQueryRunner();
    await command.connect();
    try {
      await command.startTransaction();
      await command.query(`SELECT 1 FROM waves WHERE id = $1 FOR NO KEY UPDATE`, [wave.id]);
      const t0 = Date.now();
      expect(await permits.first(sql, batch, wave, TIMES)).toBe('busy');
      expect(Date.now() - t0).toBeLessThan(1000);
      await command.query(`UPDATE waves SET state = 'paused', status_reason = 'ops' WHERE id = $1`, [wave.id]);
      await command.commitTransaction();
    } finally {
      await command.release();
    }
    expect(await permits.first(sql, batch, wave, TIMES)).toBe('stopped');
  });

  it('an import being committed makes the permit busy, and nothing is written', async () => {
    const members = logins(2);
    const wave = await runningWave(members);
    const batch = await claim(wave, 2);
    const importer = h.db.dataSource.createQueryRunner();
    await importer.connect();
    try {
      await importer.startTransaction();
      await importer.query(`UPDATE accounts SET leaked = true WHERE login = $1`, [members[1]]);
      await fence.bumpEligibilityEpoch(sqlOf(importer));
      expect(await permits.first(sql, batch, wave, TIMES)).toBe('busy');
      expect(await memberStates(wave.id)).toEqual({ in_flight: 2 });
      await importer.commitTransaction();
    } finally {
      await importer.release();
    }
    expect(await permits.first(sql, batch, wave, TIMES)).toBe('granted');
    expect(batch.members.map((m) => m.login)).toEqual([members[0]]);
  });

  it('a permit lasts one send window: commands wait for it, then nothing is open; a withdrawn one closes at once', async () => {
    const members = logins(4);
    const wave = await runningWave(members);
    const batch = await claim(wave, 2);
    expect(await permits.first(sql, batch, wave, TIMES)).toBe('granted');
    const open = await fence.openPermitsMs(sql, { waveId: wave.id });
    expect(open).toBeGreaterThan(0);
    expect(open).toBeLessThanOrEqual(TIMES.windowMs);
    const account = batch.members[0].accountId;
    expect(await fence.openPermitsMs(sql, { accountId: account })).toBeGreaterThan(0);
    expect(await fence.openPermitsMs(sql, 'forward')).toBeGreaterThan(0);
    const t0 = Date.now();
    await fence.waitForSendPermits(sql, { waveId: wave.id });
    expect(Date.now() - t0).toBeLessThanOrEqual(TIMES.windowMs + 500); // a query and a timer: room for a busy machine
    expect(await fence.openPermitsMs(sql, { waveId: wave.id })).toBe(0);

    // Missed window: the attempt is taken back (the batch is decided again at its next permit).
    const other = await claim(wave, 2);
    expect(await permits.first(sql, other, wave, TIMES)).toBe('granted');
    await permits.withdraw(sql, other, false);
    expect(other.attempts).toBe(0);
    expect(await fence.openPermitsMs(sql, { waveId: wave.id })).toBe(0);
    expect(await permits.first(sql, other, wave, TIMES)).toBe('granted');
    expect(await permits.attempt(sql, other, { generation: wave.generation, allowedStates: ['running'] }, TIMES)).toBe(
      'granted',
    );
    expect(other.attempts).toBe(2);
  });

  it('a permit of an older generation (before a pause and resume) is refused', async () => {
    const wave = await runningWave(logins(2));
    const batch = await claim(wave, 2);
    await h.commands.pause(wave.id, 'ops:test');
    await h.commands.resume(wave.id, 'ops:test');
    expect(await permits.first(sql, batch, wave, TIMES)).toBe('stopped');
    await lease.release(sql, batch);
    expect(await memberStates(wave.id)).toEqual({ pending: 2 });
  });

  it('one pump per slot: a second pump waits for the slot, and a pump that lost it cannot renew it', async () => {
    const wave = await runningWave(logins(1));
    const slot = (holder: string) => ({ waveId: wave.id, kind: 'forward' as const, slot: 3, holder });
    expect(await slots.hold(sql, slot('a'), 10_000)).toBe(0);
    expect(await slots.hold(sql, slot('a'), 10_000)).toBe(0); // already ours: renewed
    const busy = await slots.hold(sql, slot('b'), 10_000);
    expect(busy).toBeGreaterThan(9_000);
    expect(await slots.renew(sql, slot('b'), 10_000)).toBe(false);
    await slots.release(sql, slot('b')); // not b's: nothing happens
    expect(await slots.hold(sql, slot('b'), 10_000)).toBeGreaterThan(0);
    await slots.release(sql, slot('a'));
    expect(await slots.hold(sql, slot('b'), 10_000)).toBe(0);
    // b is frozen past its lease: c takes the slot, and b learns it at its next renewal.
    await sql(`UPDATE wave_pump_slots SET lease_until = now() - interval '1 second' WHERE wave_id = $1`, [wave.id]);
    expect(await slots.hold(sql, slot('c'), 10_000)).toBe(0);
    expect(await slots.renew(sql, slot('b'), 10_000)).toBe(false);
    expect(await slots.renew(sql, slot('c'), 10_000)).toBe(true);
  });

  it('a pause answers only once the permits granted before it are closed, a repeated (noop) pause too', async () => {
    const wave = await runningWave(logins(2));
    const batch = await claim(wave, 2);
    expect(await permits.first(sql, batch, wave, TIMES)).toBe('granted');
    // Whichever answers, the permit must be closed by then (read on another connection at that moment).
    const openWhenAnswered = (p: Promise<{ noop: boolean }>) =>
      p.then(async (a) => ({
        noop: a.noop,
        open: await fence.openPermitsMs(sqlOfDataSource(h.db.dataSource), { waveId: wave.id }),
      }));
    const first = openWhenAnswered(h.commands.pause(wave.id, 'ops:a'));
    const second = openWhenAnswered(h.commands.pause(wave.id, 'ops:b')); // finds it paused: noop
    const answers = await Promise.all([first, second]);
    expect(answers.sort((x, y) => Number(x.noop) - Number(y.noop))).toEqual([
      { noop: false, open: 0 },
      { noop: true, open: 0 },
    ]);
    const again = await h.commands.pause(wave.id, 'ops:c');
    expect(again.noop).toBe(true);
  });

  it("decides on the claim's read of the accounts only if no hold or import came since (epoch)", async () => {
    const members = logins(3);
    const wave = await runningWave(members);
    const claimed = await forward.claim(sql, wave, 3, 'w1', TIMES.leaseMs);
    expect(claimed.accounts.map((a) => a.login)).toEqual(members);
    await support.setHold(members[1], true, { reason: 'fraud check', ticket: 'SEC-2' }, 'support:test');
    // Decided on the claim's (stale) read: refused, and nothing written.
    expect(await permits.first(sql, claimed.batch!, wave, TIMES, claimed.accounts)).toBe('changed');
    expect(await memberStates(wave.id)).toEqual({ in_flight: 3 });
    // Read again: the held account is skipped.
    expect(await permits.first(sql, claimed.batch!, wave, TIMES)).toBe('granted');
    expect(claimed.batch!.members.map((m) => m.login)).toEqual([members[0], members[2]]);
  });
});
