import fc from 'fast-check';
import { Readable } from 'node:stream';
import {
  DEFAULT_INCIDENT_AT,
  accountsCsv,
  aWave,
  cleanModelReport,
  cleanRecord,
  countersAndTruth,
  createEngineHarness,
  EngineHarness,
  inSnapshot,
  loginAllocator,
  MODEL_FOUND,
  MODEL_MEMBERS,
  modelCommand,
  type ModelCommand,
  type ModelLifecycle,
  modelWaveParams,
  type ModelWaveParams,
  modelVsMailstore,
  pollUntil,
  recordVsMailstore,
  RunLog,
  WorkerProcess,
} from '@app/testing';
import { AccountImportService } from '../accounts/account-import.service';
import { DomainError } from '../errors';
import { OperationService } from '../support/operation.service';
import { OverrideService } from '../support/override.service';
import type { CommandResult } from '../waves/wave-commands.service';
import { simNow } from '@app/mailstore-sim';

/** Random runs per property check (after the MODEL_FOUND examples): each run's wave takes fresh accounts. */
const RUNS = 30;
/** Worker processes: a lease of 6 s (the 1 s timeout + 5 s), so a frozen worker's batches change hands in seconds. */
const WORKER_ENV = { MAILSTORE_TIMEOUT_MS: '1000', BATCH_LEASE_MS: '6000', WORKER_CONCURRENCY: '16' };
/** Support overrides last this long: some expire while the wave comes to their account. */
const OVERRIDE_TTL_MS = 4000;
/** A command answers without waiting on any worker (a frozen one included): far within this. */
const COMMAND_CAP_MS = 10_000;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Property: whatever sequence of ops and support commands (enables with and without override, disables, holds and
 * releases, override revocations), worker freezes (SIGSTOP, longer than a lease) and
 * imports of leaked accounts hits a running wave (a rate so low that pumps queue for their pace, many pumps or
 * few), after every command the counters equal the SQL truth (one snapshot), and once the wave is at rest:
 *  - every member has exactly one terminal outcome and exactly one terminal ledger row, and, if the wave was rolled
 *    back, exactly one rollback outcome and ledger row per member it enabled (invariant 1);
 *  - the counters equal the truth (invariant 4);
 *  - the service's record agrees with the mailstore for every account in scope: the mailstore's version of the
 *    account is accounted for by exactly one recorded change per version (wave enable, wave rollback, support), the
 *    latest of which gives its state; if that latest change is support's, it is what support asked for last
 *    (enable ⇒ open, disable ⇒ closed); where support never acted, open ⇔ recorded enabled and not rolled back;
 *    the service's view of the account (protocols, version) is the mailstore's;
 *  - no account was opened by a wave call started while it was held by support (from the hold's answer to the
 *    release) or held for password_reset_required (leaked by the population or by an import that had answered) with
 *    no live override: an override is given only by a support enable with `override: true` on such an account, and
 *    ends when it expires (OVERRIDE_TTL_MS here), when support disables or holds the account, or when ops revoke it
 *    (issue 15) (invariant 6);
 *  - no forward call started while the wave was paused by ops (invariant 3), and each account was changed at most
 *    once per direction (invariant 2).
 * Waves run on two worker processes (built apps/worker) so that one can be frozen; needs the build.
 */
describe('wave model (fast-check over real services and worker processes)', () => {
  let h: EngineHarness;
  let support: OperationService;
  let overrides: OverrideService;
  let importer: AccountImportService;
  let workers: WorkerProcess[] = [];
  const nextLogins = loginAllocator();
  const verbose = process.env.WAVE_MODEL_LOG === '1';

  beforeAll(async () => {
    const accounts = MODEL_MEMBERS * (RUNS + MODEL_FOUND.length) + 500;
    h = await createEngineHarness('model', { accounts });
    await h.importPopulation({ count: accounts, seed: 61, leakedShare: 0.15 });
    workers = await Promise.all([0, 1].map(() => WorkerProcess.start({ ...h.env, ...WORKER_ENV })));
    support = h.support({ overrideTtlMs: OVERRIDE_TTL_MS });
    overrides = new OverrideService(h.db.dataSource);
    importer = new AccountImportService(h.db.dataSource, new Date(DEFAULT_INCIDENT_AT));
  }, 60_000);
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.kill()));
    await h?.close();
  });

  const workerOutput = () => workers.map((w, i) => `--- worker ${i} (pid ${w.pid}):\n${w.output()}`).join('\n');

  /** A command bounded in time: commands never wait on a worker, frozen or not. */
  async function bounded<T>(what: string, fn: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const cap = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${what} did not answer within ${COMMAND_CAP_MS} ms (a command waits on a worker?)`)),
        COMMAND_CAP_MS,
      );
    });
    try {
      return await Promise.race([fn(), cap]);
    } finally {
      clearTimeout(timer);
    }
  }

  async function snapshotInvariant(waveId: string): Promise<void> {
    const { counters, truth } = await inSnapshot(h.db.dataSource, (q) => countersAndTruth(q, waveId));
    expect(counters).toEqual(truth);
  }

  /** Lifecycle commands, keeping the intervals in which the wave was paused by ops. */
  async function lifecycle(waveId: string, kind: ModelLifecycle, log: RunLog): Promise<void> {
    const startedAt = simNow();
    let result: CommandResult;
    try {
      result = await bounded(kind, () => h.commands[kind](waveId, 'ops:test'));
    } catch (err) {
      // Illegal transitions are part of the model: refused as a conflict, nothing changes.
      if (err instanceof DomainError && err.kind === 'conflict') return;
      throw err;
    }
    if (result.from === 'paused' && result.state !== 'paused' && log.pausedSince !== null) {
      log.paused.push({ from: log.pausedSince, to: startedAt });
      log.pausedSince = null;
    }
    if (result.state === 'paused' && log.pausedSince === null) log.pausedSince = simNow();
  }

  async function importLeaked(logins: string[], log: RunLog): Promise<void> {
    const rows = await h.db.dataSource.query<{ login: string; cohorts: string[] }[]>(
      `SELECT login, cohorts FROM accounts WHERE login = ANY($1::text[])`,
      [logins],
    );
    const csv = accountsCsv(rows.map((r) => ({ ...r, leaked: true, passwordChangedAt: null })));
    const report = await bounded('import', () => importer.importCsv(Readable.from([csv]), { actor: 'ops:test' }));
    log.imports.push({ logins, returnedAt: simNow() });
    expect(report.status).toBe('imported');
  }

  async function run(
    waveId: string,
    logins: string[],
    p: ModelWaveParams,
    c: ModelCommand,
    log: RunLog,
  ): Promise<void> {
    switch (c.kind) {
      case 'wait':
        await sleep(c.ms);
        return;
      case 'progress': {
        // A model wait, not a check: a paused, slow or frozen wave may not move within it.
        const moved = async () =>
          (
            await h.db.dataSource.query<{ moved: string; state: string }[]>(
              `SELECT (SELECT count(*) FROM wave_members WHERE wave_id = w.id AND state <> 'pending') AS moved, w.state
                 FROM waves w WHERE w.id = $1`,
              [waveId],
            )
          )[0];
        const before = Number((await moved()).moved);
        await pollUntil(
          async () => {
            const m = await moved();
            return m.state !== 'running' || Number(m.moved) >= before + Math.max(5, 2 * p.batchSize);
          },
          { timeoutMs: 5000, intervalMs: 25, description: 'progress' },
        ).catch(() => undefined);
        return;
      }
      case 'freeze':
        // At most one frozen at a time: the other one keeps the wave going (and takes the frozen one's batches).
        if (!workers.some((w) => w.frozen)) workers[c.worker].freeze();
        return;
      case 'wake':
        for (const w of workers) if (w.frozen) w.thaw();
        return;
      case 'support': {
        const login = logins[c.member];
        const kind = c.enable ? ('enable' as const) : ('disable' as const);
        const startedAt = simNow();
        const input = { protocols: p.protocols, reason: 'model', ticket: 'T-1' };
        let op;
        try {
          op = await bounded(`support ${kind}`, () =>
            support.request(login, kind, c.enable ? { ...input, override: c.override } : input, 'support:test'),
          );
        } catch (err) {
          // An enable of an account waves hold back, without override: refused, nothing happens.
          if (err instanceof DomainError && err.code === 'override_required' && !c.override) return;
          throw err;
        }
        log.support.push({
          login,
          kind,
          opId: op.id,
          startedAt,
          returnedAt: simNow(),
          overrideExpiresAt: op.overrideExpiresAt?.getTime(),
        });
        return;
      }
      case 'hold': {
        const login = logins[c.member];
        const startedAt = simNow();
        await bounded('hold', () => support.setHold(login, c.hold, { reason: 'model', ticket: 'T-2' }, 'support:test'));
        log.holds.push({ login, hold: c.hold, startedAt, returnedAt: simNow() });
        return;
      }
      case 'revoke': {
        const login = logins[c.member];
        try {
          await bounded('revoke', () => overrides.revoke(login, { reason: 'model', ticket: 'T-3' }, 'ops:test'));
        } catch (err) {
          if (err instanceof DomainError && err.code === 'override_not_found') return;
          throw err;
        }
        log.revokes.push({ login, returnedAt: simNow() });
        return;
      }
      case 'importLeaked':
        await importLeaked(
          c.members.map((m) => logins[m]),
          log,
        );
        return;
      case 'slow':
      case 'fast':
        try {
          await bounded(c.kind, () =>
            h.commands.update(waveId, { ratePerSecond: c.kind === 'slow' ? c.rate : p.rate }, 'ops:test'),
          );
        } catch (err) {
          if (!(err instanceof DomainError && err.kind === 'conflict')) throw err;
        }
        return;
      default:
        await lifecycle(waveId, c.kind, log);
    }
  }

  /** Stops the wave if it still runs, wakes every worker and waits until nothing is left in flight anywhere. */
  async function bringToRest(waveId: string, log: RunLog): Promise<void> {
    await lifecycle(waveId, 'cancel', log);
    if (log.pausedSince !== null) {
      // Still paused (cancel refused?): the interval ends now.
      log.paused.push({ from: log.pausedSince, to: simNow() });
      log.pausedSince = null;
    }
    for (const w of workers) w.thaw();
    const opIds = log.support.map((s) => s.opId);
    const probe = async () =>
      (
        await h.db.dataSource.query<{ state: string; claimed: string; open: string; ops: string }[]>(
          `SELECT w.state,
                  (SELECT count(*) FROM wave_batches b WHERE b.wave_id = w.id AND b.state = 'claimed') AS claimed,
                  (SELECT count(*) FROM wave_members m WHERE m.wave_id = w.id
                      AND (m.state IN ('pending', 'in_flight') OR m.rollback_state = 'in_flight')) AS open,
                  (SELECT count(*) FROM operations o WHERE o.id = ANY($2::uuid[]) AND o.state NOT IN ('succeeded', 'failed')) AS ops
             FROM waves w WHERE w.id = $1`,
          [waveId, opIds],
        )
      )[0];
    try {
      await pollUntil(
        async () => {
          const r = await probe();
          return (
            ['completed', 'cancelled', 'rolled_back'].includes(r.state) &&
            Number(r.claimed) + Number(r.open) + Number(r.ops) === 0
          );
        },
        { timeoutMs: 45_000, intervalMs: 100, description: 'wave at rest' },
      );
    } catch (err) {
      throw new Error(
        `${(err as Error).message}: ${JSON.stringify(await probe())}, counters ${JSON.stringify(await h.counters(waveId))}\n${workerOutput()}`,
        { cause: err },
      );
    }
    const dead = workers.filter((w) => !w.alive);
    if (dead.length) throw new Error(`a worker process exited:\n${workerOutput()}`);
  }

  /** The oracle at rest (see the describe's comment): the fault suite's end-of-run check, then the model's. */
  async function expectRecordMatchesMailstore(
    waveId: string,
    logins: string[],
    p: ModelWaveParams,
    log: RunLog,
  ): Promise<void> {
    const supportTouched = new Set(log.support.map((s) => s.login));
    expect({
      record: await recordVsMailstore(h, waveId, logins, { supportTouched }),
      model: await modelVsMailstore(h, waveId, logins, p.protocols, log),
    }).toEqual({ record: cleanRecord(waveId), model: cleanModelReport() });
  }

  it('keeps the invariants under random command sequences', async () => {
    const started = Date.now();
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(
        modelWaveParams,
        fc.array(modelCommand, { minLength: 2, maxLength: 10 }),
        async (p, commands) => {
          const runStarted = Date.now();
          const logins = nextLogins(MODEL_MEMBERS);
          const held = await h.db.dataSource.query<{ login: string }[]>(
            `SELECT login FROM accounts WHERE login = ANY($1::text[]) AND leaked
              AND (password_changed_at IS NULL OR password_changed_at <= $2)`,
            [logins, h.config.INCIDENT_AT],
          );
          const log: RunLog = {
            heldFromStart: new Set(held.map((r) => r.login)),
            imports: [],
            support: [],
            holds: [],
            revokes: [],
            paused: [],
            pausedSince: null,
            t0: simNow(),
          };
          const wave = await aWave('model')
            .logins(logins)
            .protocols(...p.protocols)
            .rate(p.rate)
            .rollbackRate(600)
            .batchSize(p.batchSize)
            .concurrency(p.concurrency)
            .create(h);
          h.sim.setFaults(p.callLatencyMs ? { latencyMs: p.callLatencyMs, endpoints: ['batch'] } : {});
          try {
            await h.commands.start(wave.id, 'ops:test');
            for (const c of p.warmUp ? [{ kind: 'progress' } as const, ...commands] : commands) {
              await run(wave.id, logins, p, c, log);
              await snapshotInvariant(wave.id);
            }
            await bringToRest(wave.id, log);
            await snapshotInvariant(wave.id);
            await expectRecordMatchesMailstore(wave.id, logins, p, log);
          } finally {
            for (const w of workers) w.thaw();
            h.sim.setFaults({});
          }
          runs++;
          if (verbose) {
            const [b] = await h.db.dataSource.query<{ batches: string; taken_over: string; state: string }[]>(
              `SELECT count(*) AS batches, count(*) FILTER (WHERE lease_gen > 1) AS taken_over,
                    (SELECT state FROM waves WHERE id = $1) AS state
               FROM wave_batches WHERE wave_id = $1`,
              [wave.id],
            );
            const calls = h.sim.calls().filter((c) => c.idempotencyKey?.includes(wave.id));
            process.stdout.write(
              `run ${runs}: ${Date.now() - runStarted} ms, ${b.state}, ${b.batches} batches (${b.taken_over} taken over), ` +
                `${calls.length} calls (${calls.filter((c) => c.outcome === 'replayed').length} replayed), ` +
                `counters ${JSON.stringify(await h.counters(wave.id))}, ${JSON.stringify(p)} ${JSON.stringify(commands)}\n`,
            );
          }
        },
      ),
      { numRuns: RUNS, endOnFailure: true, examples: MODEL_FOUND },
    );
    if (verbose) process.stdout.write(`${runs} runs in ${Date.now() - started} ms\n`);
  }, 300_000);
});
