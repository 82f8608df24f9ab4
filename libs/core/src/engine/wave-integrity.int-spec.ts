import { Readable } from 'node:stream';
import {
  DEFAULT_INCIDENT_AT,
  accountsCsv,
  aWave,
  cleanRecord,
  createEngineHarness,
  EngineHarness,
  loginRange,
  pollUntil,
  recordVsMailstore,
  WorkerProcess,
} from '@app/testing';
import { simNow } from '@app/mailstore-sim';
import { AccountImportService } from '../accounts/account-import.service';

const ACCOUNTS = 50_000;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * The record against the mailstore when batches change hands: a pump that waited for its pace longer than its
 * lease, a worker frozen (SIGSTOP) and woken after another took its batches over, commands while a worker is
 * frozen, eligibility changed by an import while a wave runs, and the pace after Redis lost every key. Each test
 * asserts the brief's invariants (1, 3, 4, 6, eligibility at send time, the 110 % window) at rest, never a bug's
 * figures. Worker processes are real (SIGSTOP/SIGCONT need them). Needs the build (npm test builds first).
 */
describe('wave integrity when batches change hands (worker processes, real services)', () => {
  let h: EngineHarness;
  let children: WorkerProcess[] = [];
  /** Waves of the current test: one left running by a failed assertion is cancelled before the next test. */
  let waves: string[] = [];

  /** A worker process with extra environment, resolved once it logged that it is ready. */
  const worker = async (env: Record<string, string> = {}): Promise<WorkerProcess> => {
    const child = await WorkerProcess.start({ ...h.env, ...env });
    children.push(child);
    return child;
  };

  const state = async (id: string) => (await h.waveStatus(id)).state;
  const count = async (sql: string, params: unknown[]) =>
    Number((await h.db.dataSource.query<{ n: string }[]>(sql, params))[0].n);
  const claimedBatches = (id: string) =>
    count(`SELECT count(*) AS n FROM wave_batches WHERE wave_id = $1 AND state = 'claimed'`, [id]);
  /** A started wave over `members`, cancelled after the test if a failed assertion left it running. */
  const wave = async (
    name: string,
    members: string[],
    o: { rate: number; batchSize: number; concurrency: number; protocols?: ('imap' | 'pop3')[] },
  ) => {
    const w = await aWave(name)
      .logins(members)
      .protocols(...(o.protocols ?? ['imap', 'pop3']))
      .rate(o.rate)
      .batchSize(o.batchSize)
      .concurrency(o.concurrency)
      .started(h);
    waves.push(w.id);
    return w.id;
  };

  /** The fault suite's end-of-run check (libs/testing/src/wave-record.ts) for a wave at rest. */
  async function expectRecordMatchesMailstore(
    waveId: string,
    members: string[],
    opts: { paused?: boolean } = {},
  ): Promise<void> {
    expect(await recordVsMailstore(h, waveId, members, opts)).toEqual(cleanRecord(waveId));
  }

  /** Runs a check and returns its failure instead of throwing (to report two phases of one test). */
  const captured = async (fn: () => Promise<unknown>): Promise<Error | null> => {
    try {
      await fn();
      return null;
    } catch (err) {
      return err instanceof Error ? err : new Error(String(err));
    }
  };

  beforeAll(async () => {
    h = await createEngineHarness('integrity', { accounts: ACCOUNTS });
    await h.importPopulation({ count: ACCOUNTS, seed: 14, leakedShare: 0 });
  });
  afterEach(async () => {
    h.sim.setFaults({});
    for (const c of children) c.thaw();
    for (const id of waves) {
      if (['running', 'paused', 'halted'].includes(await state(id))) await h.commands.cancel(id, 'ops:test');
    }
    waves = [];
    await Promise.all(children.map((c) => c.kill()));
    children = [];
  });
  afterAll(async () => {
    await h?.close();
  });

  it('A slow wave loses accounts, with no fault', async () => {
    // 16 pumps share 1 account/s: each waits ~16 s for its pace slot, longer than its 6 s lease (the shortest the
    // 1 s timeout allows: the timeout + 5 s). Before issue 14 the lease is not kept while a pump waits for its pace, another pump takes the batch
    // over and settles it, and on pause the first one's releaseBatch (no ownership guard) sets its members back
    // to pending: enabled at the mailstore, recorded as cancelled, counters off.
    await worker({ BATCH_LEASE_MS: '6000', MAILSTORE_TIMEOUT_MS: '1000', WORKER_CONCURRENCY: '16' });
    const members = loginRange(1, 200);
    const id = await wave('slow', members, { rate: 1, batchSize: 10, concurrency: 16 });
    await sleep(15_000);
    await h.commands.pause(id, 'ops:test');
    await h.waitAtRest(id);
    await h.commands.cancel(id, 'ops:test');
    await h.waitAtRest(id);
    expect(await state(id)).toBe('cancelled');
    await expectRecordMatchesMailstore(id, members);
  }, 90_000);

  it('A woken zombie worker corrupts the record', async () => {
    // Before issue 14 the woken process released (releaseBatch, no ownership guard) batches the other one took over and
    // settled: their members pend again, are sent again after resume and end as skipped already_enabled.
    // Lease 6 s (the 1 s timeout + 5 s); 8 job slots per process and 12 pumps, so both processes run pumps.
    const env = { BATCH_LEASE_MS: '6000', MAILSTORE_TIMEOUT_MS: '1000', WORKER_CONCURRENCY: '8' };
    // Calls take 100 ms, so a frozen process holds batches whether it claims them before or after its pace slot.
    h.sim.setFaults({ latencyMs: 100, endpoints: ['batch'] });
    const a = await worker(env);
    const b = await worker(env);
    const members = loginRange(1001, 5000);
    const id = await wave('zombie', members, { rate: 200, batchSize: 20, concurrency: 12 });
    await h.untilCounters(id, (c) => (c.enabled ?? 0) >= 300, {
      timeoutMs: 20_000,
      description: '300 enabled',
    });
    // One process is frozen at a moment it holds batches (claimed, sent or not); the other one takes them over once
    // their lease expired.
    const heldBy = async (pid: number | undefined) =>
      (
        await h.db.dataSource.query<{ id: string }[]>(
          `SELECT id FROM wave_batches WHERE wave_id = $1 AND state = 'claimed' AND claimed_by LIKE $2`,
          [id, `%/${pid}/%`],
        )
      ).map((r) => r.id);
    let zombie = a;
    let held: string[] = [];
    for (let i = 0; i < 50 && !held.length; i++) {
      zombie = i % 2 ? b : a;
      zombie.freeze();
      await sleep(100); // statements it had sent land
      held = await heldBy(zombie.pid);
      if (!held.length) zombie.thaw();
    }
    expect(held.length).toBeGreaterThan(0);
    // Each held batch's lease as the frozen worker left it (it cannot renew it now), on the database's clock.
    const leases = await h.db.dataSource.query<{ id: string; lease_until: Date }[]>(
      `SELECT id, lease_until FROM wave_batches WHERE id = ANY($1::bigint[])`,
      [held],
    );
    // Until the other worker settled every batch the frozen one held (bounded: a stall is the check's to report).
    await pollUntil(
      async () =>
        (await count(`SELECT count(*) AS n FROM wave_batches WHERE id = ANY($1::bigint[]) AND state = 'claimed'`, [
          held,
        ])) === 0,
      { timeoutMs: 25_000, description: "the frozen worker's batches taken over and settled" },
    ).catch(() => undefined);
    // Each settled after its lease ran out (renewed up to ~1 s before the freeze: a bound from the freeze could fail).
    const afterLease = `SELECT count(*) AS n FROM wave_batches b JOIN unnest($1::bigint[], $2::timestamptz[]) AS l(id, lease_until)
      USING (id) WHERE b.completed_at >= l.lease_until`;
    expect(await count(afterLease, [leases.map((l) => l.id), leases.map((l) => l.lease_until)])).toBe(held.length);
    // A pause while the zombie may hold the wave's lock could wait for it (test 3): wake it after 3 s regardless.
    const paused = h.commands.pause(id, 'ops:test');
    await Promise.race([paused, sleep(3000)]);
    zombie.thaw();
    await paused;
    await h.waitAtRest(id);
    const atPause = await captured(() => expectRecordMatchesMailstore(id, members, { paused: true }));

    await h.commands.resume(id, 'ops:test');
    const completed = await captured(() => h.untilWaveState(id, 'completed', { timeoutMs: 45_000 }));
    await h.waitAtRest(id, { timeoutMs: 10_000 });
    const atEnd = await captured(async () => {
      await expectRecordMatchesMailstore(id, members);
      // A completed wave has no cancelled member.
      expect({
        state: await state(id),
        cancelled: await count(`SELECT count(*) AS n FROM wave_members WHERE wave_id = $1 AND state = 'cancelled'`, [
          id,
        ]),
      }).toEqual({ state: 'completed', cancelled: 0 });
    });
    const failures = [
      atPause && `paused, at rest, after the zombie woke:\n${atPause.message}`,
      completed && `resumed:\n${completed.message}`,
      atEnd && `completed, at rest:\n${atEnd.message}`,
    ].filter(Boolean);
    if (failures.length) throw new Error(failures.join('\n\n'));
  }, 120_000);

  it('Commands wait on a frozen worker', async () => {
    // Invariant 3 and support holds must not depend on a worker being alive: a command answers in under a second
    // while a worker is frozen (SIGSTOP: a long GC pause, a stalled VM), and once it answered no call starts, even
    // from that worker once woken. Before issue 14 a dispatcher held the wave's shared advisory lock and the global hold
    // lock (session-level) around every send; frozen there, pause and setHold wait until it is woken.
    // A mailstore answering in 60 ms: every send holds the dispatcher's locks for its whole 50 ms guard.
    // What is measured: the only worker is frozen from before the commands until THAW_AFTER_MS after both answered, so
    // no call can start in between; every call it starts once woken arrives after `thawedAt`, and must be none (for
    // the held account, none with it). A call the worker wrote before the freeze is stamped by the simulator (in this
    // process) when this event loop reads it, which a stalled loop can put after a command's answer (seen on CI: one
    // call at +1 ms after a pause that waited 196 ms); the frozen interval keeps it apart from a call the woken worker
    // starts. All instants on the simulator's clock (simNow).
    const THAW_AFTER_MS = 250;
    h.sim.setFaults({ latencyMs: 60, endpoints: ['batch'] });
    const child = await worker();
    const members = loginRange(5001, 25_000);
    const id = await wave('frozen', members, { rate: 2000, batchSize: 100, concurrency: 8, protocols: ['imap'] });
    const support = h.support();
    await pollUntil(() => h.batchCalls(id).length >= 3, { timeoutMs: 15_000, description: 'first calls' });
    const CAP_MS = 3000;
    const trials: {
      runMs: number;
      pauseMs: number;
      holdMs: number;
      callsAfterPause: number;
      heldLoginCallsAfterHold: number;
      workerLocks: string[];
    }[] = [];
    for (let trial = 0; trial < 8; trial++) {
      const runMs = 150 + Math.floor(Math.random() * 500);
      await sleep(runMs);
      const [target] = await h.db.dataSource.query<{ login: string }[]>(
        `SELECT a.login FROM wave_members m JOIN accounts a ON a.id = m.account_id
          WHERE m.wave_id = $1 AND m.state = 'pending' AND NOT a.held ORDER BY m.seq DESC LIMIT 1`,
        [id],
      );
      child.freeze();
      const t0 = simNow();
      let pausedAt = 0;
      let heldAt = 0;
      const pause = h.commands.pause(id, 'ops:test').then(() => (pausedAt = simNow()));
      const hold = support
        .setHold(target.login, true, { reason: 'fraud check', ticket: `SEC-${trial}` }, 'support:test')
        .then(() => (heldAt = simNow()));
      await Promise.race([Promise.all([pause, hold]), sleep(1200)]);
      // Diagnostics: the advisory locks the frozen worker holds while a command still waits.
      const workerLocks =
        pausedAt && heldAt
          ? []
          : (
              await h.db.dataSource.query<{ lock: string }[]>(
                `SELECT l.classid || ':' || l.objid AS lock FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                  WHERE l.locktype = 'advisory' AND l.granted AND a.application_name = 'reopen-worker' ORDER BY 1`,
              )
            ).map((r) => r.lock);
      const answered = await Promise.race([
        Promise.all([pause, hold]).then(() => true),
        sleep(CAP_MS - (simNow() - t0)).then(() => false),
      ]);
      if (answered) await sleep(THAW_AFTER_MS); // else the trial has failed (pauseMs or holdMs ≥ CAP_MS)
      const thawedAt = simNow();
      child.thaw();
      await Promise.all([pause, hold]);
      await sleep(1000); // anything the woken worker was about to send, it sends now
      const woken = h.batchCalls(id).filter((c) => c.startedAt > thawedAt);
      trials.push({
        runMs,
        pauseMs: Math.round(pausedAt - t0),
        holdMs: Math.round(heldAt - t0),
        callsAfterPause: woken.length,
        heldLoginCallsAfterHold: woken.filter((c) => c.accounts.includes(target.login)).length,
        workerLocks,
      });
      const resumedAt = simNow();
      await h.commands.resume(id, 'ops:test');
      await pollUntil(() => h.batchCalls(id).some((c) => c.startedAt > resumedAt), {
        timeoutMs: 10_000,
        description: 'calls again after resume',
      });
    }
    const bad = trials.filter(
      (t) => t.pauseMs >= 1000 || t.holdMs >= 1000 || t.callsAfterPause > 0 || t.heldLoginCallsAfterHold > 0,
    );
    expect({ bad, all: trials.map((t) => `${t.pauseMs}/${t.holdMs} ms`) }).toEqual({
      bad: [],
      all: trials.map((t) => `${t.pauseMs}/${t.holdMs} ms`),
    });
    await h.commands.cancel(id, 'ops:test');
    await h.waitAtRest(id);
    await expectRecordMatchesMailstore(id, members);
  }, 120_000);

  it('Eligibility decided too early', async () => {
    // Eligibility is decided when a batch is sent (brief), so an account marked leaked by an import is never opened
    // by a call that starts after the import returned. Before issue 14 it was decided at claim: batches claimed before the
    // import are sent after it as they were.
    await worker();
    const members = loginRange(25_001, 28_000);
    const id = await wave('eligibility', members, { rate: 1000, batchSize: 50, concurrency: 8 });
    await h.untilCounters(id, (c) => (c.enabled ?? 0) >= 300, {
      timeoutMs: 20_000,
      description: '300 enabled',
    });
    // The next 990 members not sent yet (pending, or in a batch never attempted), in the order the wave sends.
    const marked = await h.db.dataSource.query<{ login: string; cohorts: string[] }[]>(
      `SELECT a.login, a.cohorts FROM wave_members m JOIN accounts a ON a.id = m.account_id
         LEFT JOIN wave_batches b ON b.id = m.batch_id
        WHERE m.wave_id = $1 AND (m.state = 'pending' OR (m.state = 'in_flight' AND b.attempts = 0))
        ORDER BY m.seq LIMIT 990`,
      [id],
    );
    expect(marked.length).toBe(990);
    const csv = accountsCsv(marked.map((m) => ({ ...m, leaked: true, passwordChangedAt: null })));
    const report = await new AccountImportService(h.db.dataSource, new Date(DEFAULT_INCIDENT_AT)).importCsv(
      Readable.from([csv]),
      {
        actor: 'ops:test',
      },
    );
    const T = Date.now();
    expect([report.status, report.updated]).toEqual(['imported', 990]);
    await h.untilWaveState(id, 'completed', { timeoutMs: 30_000 });
    await h.waitAtRest(id, { timeoutMs: 10_000 });

    const markedSet = new Set(marked.map((m) => m.login));
    const calls = h.batchCalls(id);
    const appliedAfterT = calls
      .filter((c) => c.startedAt > T)
      .flatMap((c) => c.applied.filter((l) => markedSet.has(l)));
    const enabledBefore = new Set(
      calls.filter((c) => c.startedAt <= T).flatMap((c) => c.applied.filter((l) => markedSet.has(l))),
    );
    const rows = await h.db.dataSource.query<{ login: string; state: string; reason: string | null }[]>(
      `SELECT a.login, m.state, m.reason FROM wave_members m JOIN accounts a ON a.id = m.account_id
        WHERE m.wave_id = $1 AND a.login = ANY($2::text[]) ORDER BY m.seq`,
      [id, [...markedSet]],
    );
    const wrong = rows.filter(
      (r) =>
        !(r.state === 'enabled' && enabledBefore.has(r.login)) &&
        !(r.state === 'skipped' && r.reason === 'password_reset_required'),
    );
    expect({
      appliedAfterImport: { count: appliedAfterT.length, first: appliedAfterT.slice(0, 5) },
      neitherEnabledBeforeNorHeld: {
        count: wrong.length,
        first: wrong.slice(0, 5).map((r) => `${r.login} ${r.state}${r.reason ? `:${r.reason}` : ''}`),
      },
    }).toEqual({
      appliedAfterImport: { count: 0, first: [] },
      neitherEnabledBeforeNorHeld: { count: 0, first: [] },
    });
    await expectRecordMatchesMailstore(id, members);
  }, 90_000);

  it('Rate after a Redis wipe', async () => {
    // The pace (110 % of the rate over any second) and the wave's concurrency hold when Redis loses every key.
    // Before issue 14 the pace's reservations were lost (slots already handed out are handed out again) and the reconciler
    // re-adds the pump jobs while the old pumps still run (up to twice the concurrency).
    const RATE = 3000;
    const CONCURRENCY = 8;
    await worker();
    const members = loginRange(30_001, 50_000);
    const id = await wave('wipe', members, {
      rate: RATE,
      batchSize: 300,
      concurrency: CONCURRENCY,
      protocols: ['imap'],
    });
    let sampling = true;
    const wipe = { at: 0 };
    let maxClaimed = 0;
    let maxPumps = 0;
    const claimedSamples: number[] = [];
    const sampler = (async () => {
      while (sampling) {
        const n = await claimedBatches(id);
        claimedSamples.push(n);
        maxClaimed = Math.max(maxClaimed, n);
        // Pumps that claimed batches in the last 2 s (each pump run claims under a name of its own).
        const [p] = await h.db.dataSource.query<{ n: number }[]>(
          `SELECT count(DISTINCT claimed_by)::int AS n FROM wave_batches
            WHERE wave_id = $1 AND kind = 'forward' AND created_at > now() - interval '2 seconds'`,
          [id],
        );
        maxPumps = Math.max(maxPumps, p.n);
        await sleep(100);
      }
    })();
    try {
      await h.untilCounters(id, (c) => (c.enabled ?? 0) >= 6000, {
        timeoutMs: 30_000,
        description: '6000 enabled',
      });
      // Redis loses every key of this file's prefix (never FLUSHALL: other test files share this Redis).
      wipe.at = Date.now();
      await h.redis.wipe();
      await h.untilWaveState(id, 'completed', { timeoutMs: 45_000 });
    } finally {
      sampling = false;
      await sampler;
    }
    // Accounts per sliding 1-s window (100 ms steps) over the wave's calls (retries included: the mailstore sees
    // them), for every window that overlaps the 1.5 s after the wipe: the reservations made before the wipe start
    // within it. Batches are a tenth of the rate, so an exact pace puts at most 11 starts in any second (110 %);
    // one more batch is allowed for a call started late by a busy machine (CI runs two test files at once: calls
    // were seen 100-200 ms late at a load of 4.5 on 2 cores), which bunches with the next on-time one. The engine
    // before issue 14 reached 3900-5100 here (130-170 %).
    const starts = h
      .batchCalls(id)
      .map((c) => ({ at: c.startedAt, n: c.accounts.length }))
      .sort((x, y) => x.at - y.at);
    const allowed = RATE * 1.1 + 300;
    let maxWindow = 0;
    let maxAt = 0;
    for (let t = wipe.at - 1000; t <= wipe.at + 1500; t += 100) {
      const n = starts.filter((s) => s.at >= t && s.at < t + 1000).reduce((sum, s) => sum + s.n, 0);
      if (n > maxWindow) [maxWindow, maxAt] = [n, t - wipe.at];
    }
    expect({
      windowAboveAllowed: maxWindow > allowed ? { accounts: maxWindow, windowStartMsAfterWipe: maxAt } : false,
      claimedAboveConcurrency: maxClaimed > CONCURRENCY ? { maxClaimed, samples: claimedSamples.length } : false,
      pumpsAboveConcurrency: maxPumps > CONCURRENCY ? maxPumps : false,
    }).toEqual({ windowAboveAllowed: false, claimedAboveConcurrency: false, pumpsAboveConcurrency: false });
    expect(maxWindow).toBeGreaterThan(RATE * 0.5); // the windows saw the wave at work around the wipe
    expect(maxPumps).toBeGreaterThan(1); // the sampler saw the pumps at work
    await expectRecordMatchesMailstore(id, members);
  }, 90_000);
});
