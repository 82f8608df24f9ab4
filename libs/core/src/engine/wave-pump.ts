import { hostname } from 'node:os';
import { DataSource, QueryRunner } from 'typeorm';
import { backoffMs, retryAfterWithJitter } from '@app/domain';
import { BatchResult, MailstoreClient, Outcome } from '@app/mailstore';
import { WavePumpJob } from '@app/queue';
import { WaveCommandsService } from '../waves/wave-commands.service';
import { extendLease, markAttempt, releaseBatch, skipHeldMembers, takeOverStaleBatch } from './batch-lease.repository';
import { CallRecord, recordCall, settleForward, settleRollback } from './batch-settle.repository';
import { BatchLostError, buildRequest, ClaimedBatch, WaveRuntime } from './batch.types';
import { claimForwardBatch } from './forward-batch.repository';
import { claimRollbackBatch, rollbackLeft } from './rollback-batch.repository';
import { HOLD_LOCK_CLASS, inTransaction, Sql, sqlOf, WAVE_LOCK_CLASS } from './sql';
import { sleep, Throttle } from './throttle';
import { loadWaveRuntime, readCounters, readDrainState } from './wave-runtime.repository';
import { WaveVerifier } from './wave-verifier';

export interface EngineSettings {
  /** Passwords changed at or before this instant are considered known to the attackers. */
  incidentAt: Date;
  /** How long a claimed batch stays ours without news (then another worker may take it over). */
  leaseMs: number;
  /** Longest a dispatcher holds the wave's shared lock after starting a call (the call is on the wire by then). */
  guardMs: number;
  /** Consecutive retryable failures (5xx, timeouts, resets) of one batch before the wave pauses as unreachable. */
  maxConsecutiveFailures: number;
  /** Request timeout of the mailstore client (the lease must outlast one attempt). */
  requestTimeoutMs: number;
}

function callRecord(startedAt: Date, outcome: Outcome<BatchResult>): CallRecord {
  return {
    startedAt,
    latencyMs: outcome.latencyMs,
    httpStatus: 'status' in outcome ? (outcome.status ?? null) : null,
    outcome:
      outcome.kind === 'retryable' || outcome.kind === 'permanent' ? `${outcome.kind}:${outcome.code}` : outcome.kind,
    itemErrors: outcome.kind === 'ok' ? outcome.value.summary.failed : 0,
  };
}

/** How often a pump looks for batches whose lease expired (each pump; the lease itself is much longer). */
const STALE_CHECK_INTERVAL_MS = 1000;

/** Wave states in which forward batches with an unknown outcome are still finished (never new ones). */
const RESOLVING_STATES = ['cancelled', 'rolling_back'];

export type PumpOutcome = 'drained' | 'stopped' | 'superseded' | 'paused_unreachable' | 'paused_unauthorized';

/**
 * One concurrency slot of a wave: claims a batch, waits for its slot in the global pace, sends it under the
 * wave's shared lock (state re-checked right before the call), writes the answer, and goes on until the wave is
 * drained, stopped, or a newer generation took over. It returns an outcome; it throws only to be retried.
 */
export class WavePump {
  private readonly workerId: string;
  /** Highest seq this pump has claimed: its next claim starts the index scan there. */
  private floor = 0;
  /** When this pump next looks for a batch whose lease expired. */
  private nextStaleCheckAt = 0;

  constructor(
    private readonly dataSource: DataSource,
    private readonly client: MailstoreClient,
    private readonly throttle: Throttle,
    private readonly commands: WaveCommandsService,
    private readonly verifier: WaveVerifier,
    private readonly settings: EngineSettings,
    private readonly job: WavePumpJob,
    jobId: string,
    private readonly signal?: AbortSignal,
  ) {
    this.workerId = `${hostname()}/${process.pid}/${jobId}`;
  }

  private get wantedState(): string {
    return this.job.kind === 'forward' ? 'running' : 'rolling_back';
  }

  async run(): Promise<PumpOutcome> {
    const runner = this.dataSource.createQueryRunner();
    await runner.connect();
    try {
      const sql = sqlOf(runner);
      for (;;) {
        if (this.signal?.aborted) return 'stopped';
        const wave = await this.loadWave(sql);
        if (!wave) return 'stopped';
        if (wave.generation !== this.job.generation) return 'superseded';
        if (wave.state !== this.wantedState) return this.resolveLeftovers(runner, sql, wave);
        const batch = await this.nextBatch(runner, sql, wave);
        if (batch === 'drained') {
          await this.onDrained(sql, wave);
          return 'drained';
        }
        if (batch === 'skipped_only') continue;
        const result = await this.deliver(runner, sql, wave, batch);
        if (result !== 'settled') return result;
      }
    } finally {
      await runner.release();
    }
  }

  /**
   * A cancelled or rolling-back wave may still hold forward batches that reached the mailstore with an unknown
   * outcome (timeout, reset). Each is finished with its own idempotency key, so every account ends in one
   * terminal outcome: the replay returns the stored answer, or applies exactly what was asked before the stop
   * (and a rollback then restores it). No new batch is ever claimed here.
   */
  private async resolveLeftovers(runner: QueryRunner, sql: Sql, wave: WaveRuntime): Promise<PumpOutcome> {
    if (this.job.kind !== 'forward' || !RESOLVING_STATES.includes(wave.state)) return 'stopped';
    for (;;) {
      const batch = await takeOverStaleBatch(sql, wave.id, 'forward', this.workerId, this.leaseMs());
      if (!batch) return 'stopped';
      const result = await this.deliver(runner, sql, wave, batch);
      if (result !== 'settled') return result;
    }
  }

  /** Whether this batch may be sent now: the wave runs, or it is an attempted batch being resolved. */
  private mayCall(state: string | undefined, batch: ClaimedBatch): boolean {
    if (state === this.wantedState) return true;
    return this.job.kind === 'forward' && batch.attempts > 0 && state !== undefined && RESOLVING_STATES.includes(state);
  }

  private loadWave(sql: Sql): Promise<WaveRuntime | null> {
    return loadWaveRuntime(sql, this.job.waveId);
  }

  private rate(wave: WaveRuntime): number {
    return this.job.kind === 'forward' ? wave.ratePerSecond : wave.rollbackRatePerSecond;
  }

  /**
   * Accounts per batch: the wave's batch size, within the mailstore's maxBatchItems, and at most a tenth of the
   * rate so one batch arriving late in a second adds at most 10 % to that second (the 110 % window rule).
   */
  private batchSize(wave: WaveRuntime): number {
    const caps = this.client.cachedCapabilities();
    const maxItems = caps?.maxBatchItems ?? 500;
    return Math.max(1, Math.min(wave.batchSize, maxItems, Math.floor(this.rate(wave) / 10) || 1));
  }

  private async nextBatch(
    runner: QueryRunner,
    sql: Sql,
    wave: WaveRuntime,
  ): Promise<ClaimedBatch | 'drained' | 'skipped_only'> {
    const lease = this.leaseMs();
    const stale = await this.takeOverStale(sql, wave.id);
    if (stale) return stale;
    if (this.job.kind === 'rollback') {
      const claim = (floor: number) =>
        claimRollbackBatch(sql, wave.id, this.batchSize(wave), this.workerId, lease, floor);
      let batch = await claim(this.floor);
      if (!batch && this.floor > 0) {
        this.floor = 0;
        batch = await claim(0);
      }
      if (!batch) return (await this.takeOverStale(sql, wave.id, true)) ?? 'drained';
      this.floor = batch.members[batch.members.length - 1].seq;
      return batch;
    }
    let claim = await inTransaction(runner, () =>
      claimForwardBatch(sql, wave, this.batchSize(wave), this.settings.incidentAt, this.workerId, lease, this.floor),
    );
    if (claim.claimed === 0 && this.floor > 0) {
      // Members below the floor can pend again only after another pump's claim failed: look once from the start.
      this.floor = 0;
      claim = await inTransaction(runner, () =>
        claimForwardBatch(sql, wave, this.batchSize(wave), this.settings.incidentAt, this.workerId, lease),
      );
    }
    if (claim.claimed === 0) return (await this.takeOverStale(sql, wave.id, true)) ?? 'drained';
    this.floor = claim.lastSeq;
    return claim.batch ?? 'skipped_only';
  }

  /**
   * A batch whose lease expired (its worker died or stalled), taken over and rebuilt as claimed. Looked for at
   * most once a second per pump (a lease lasts many seconds, so this adds at most a second to a takeover), and
   * always before the pump reports the wave drained.
   */
  private async takeOverStale(sql: Sql, waveId: string, force = false): Promise<ClaimedBatch | null> {
    const now = Date.now();
    if (!force && now < this.nextStaleCheckAt) return null;
    this.nextStaleCheckAt = now + STALE_CHECK_INTERVAL_MS;
    return takeOverStaleBatch(sql, waveId, this.job.kind, this.workerId, this.leaseMs());
  }

  private leaseMs(): number {
    return Math.max(this.settings.leaseMs, this.settings.requestTimeoutMs + 5000);
  }

  /** Sends one batch until it has a definitive answer, or the wave stops. */
  private async deliver(
    runner: QueryRunner,
    sql: Sql,
    wave: WaveRuntime,
    batch: ClaimedBatch,
  ): Promise<'settled' | PumpOutcome> {
    let { items, options } = buildRequest(this.job.kind, wave.id, wave.protocols, batch.members);
    const caps = this.client.cachedCapabilities();
    let failures = 0;
    try {
      for (;;) {
        // Waiting for the pace never counts as a retry attempt.
        const acquired = await this.throttle.acquire(
          {
            cost: items.length,
            waveRate: this.rate(wave),
            waveKey: `${wave.id}:${this.job.kind}`,
            mailstoreRate: caps?.rateLimits.accountUpdatesPerSecond ?? 0,
            maxWaitMs: 1000,
          },
          async () => this.mayCall((await this.loadWave(sql))?.state, batch),
        );
        if (!acquired) return this.stopWith(runner, sql, batch);
        // A slot reserved before another pump's 429 must not be used inside that Retry-After.
        const blocked = await this.throttle.blockedMs();
        if (blocked > 0) {
          await extendLease(sql, batch, this.workerId, this.leaseMs() + blocked);
          await sleep(blocked);
          continue;
        }
        const sent = await this.sendGuarded(sql, batch, () =>
          this.client.batch(items, options, {
            idempotencyKey: batch.idempotencyKey,
            requestId: `${batch.idempotencyKey}#${batch.attempts + 1}`,
          }),
        );
        if (sent === 'stopped') return this.stopWith(runner, sql, batch);
        if (sent === 'blocked') continue; // the loop waits out the block before trying again
        if ('held' in sent) {
          // Held by support since the claim, before anything was sent: skipped as held, the rest goes on.
          await inTransaction(runner, () => skipHeldMembers(sql, batch, sent.held));
          if (!batch.members.length) return 'settled';
          ({ items, options } = buildRequest(this.job.kind, wave.id, wave.protocols, batch.members));
          continue;
        }
        const { outcome, startedAt } = sent;
        if (outcome.kind === 'ok') {
          // One statement writes the answer and logs the call.
          const call = callRecord(startedAt, outcome);
          if (this.job.kind === 'forward') await settleForward(sql, batch, this.workerId, outcome.value.results, call);
          else await settleRollback(sql, batch, this.workerId, outcome.value.results, call);
          await this.throttle.reward();
          return 'settled';
        }
        if (outcome.kind === 'rate_limited' || outcome.kind === 'unavailable' || outcome.kind === 'in_progress') {
          // Nothing applied: everybody waits Retry-After and the pace halves; same key next time. Blocking
          // comes first, before any bookkeeping, so other dispatchers learn of it as early as possible.
          await this.throttle.penalize(retryAfterWithJitter(outcome.retryAfterMs / 1000, Math.random));
          await this.record(sql, batch, startedAt, outcome);
          await extendLease(sql, batch, this.workerId, this.leaseMs() + outcome.retryAfterMs);
          continue;
        }
        await this.record(sql, batch, startedAt, outcome);
        if (outcome.kind === 'retryable') {
          failures++;
          if (failures >= this.settings.maxConsecutiveFailures) {
            // The batch keeps its key and members (outcome unknown); resume retries it as is.
            await this.commands.systemPause(wave.id, 'mailstore_unreachable', {
              batchId: batch.id,
              lastError: outcome.code,
              attempts: failures,
            });
            return 'paused_unreachable';
          }
          const wait = backoffMs(failures, { baseMs: 500, maxMs: 8000, random: Math.random });
          await extendLease(sql, batch, this.workerId, this.leaseMs() + wait);
          await sleep(wait);
          continue;
        }
        // Permanent: 401/403 stop everything (never retried); anything else fails the batch's members.
        if (outcome.status === 401 || outcome.status === 403) {
          await this.commands.systemPause(wave.id, 'mailstore_unreachable', {
            batchId: batch.id,
            status: outcome.status,
            code: outcome.code,
          });
          return 'paused_unauthorized';
        }
        const code = `http_${outcome.status}_${outcome.code}`.replace(/[^a-z0-9_.-]/gi, '_').slice(0, 64);
        const results = batch.members.map((m) => ({ account: m.login, status: 'invalid' as const, error: { code } }));
        if (this.job.kind === 'forward') await settleForward(sql, batch, this.workerId, results);
        else await settleRollback(sql, batch, this.workerId, results);
        return 'settled';
      }
    } catch (err) {
      if (err instanceof BatchLostError) return 'settled'; // another worker owns it now
      throw err;
    }
  }

  /**
   * Re-checks the wave's state and starts the call while holding the wave's shared advisory lock. A command
   * (pause, cancel, halt) takes the lock exclusively, so it waits until every dispatcher that saw "running"
   * has its call on the wire, and no dispatcher can see "running" after the command committed. Three statements:
   * the locks (before the check, so the check's snapshot is taken after any command that held them committed),
   * the check and the attempt (durable before the call), the unlocks.
   */
  private async sendGuarded(
    sql: Sql,
    batch: ClaimedBatch,
    call: () => Promise<Outcome<BatchResult>>,
  ): Promise<'stopped' | 'blocked' | { held: number[] } | { outcome: Outcome<BatchResult>; startedAt: Date }> {
    // A first forward attempt also holds the hold lock shared: a support hold (exclusive) waits for it, and
    // after the hold returns no batch containing that account can start (invariant 6).
    const checkHolds = this.job.kind === 'forward' && batch.attempts === 0;
    const locks = checkHolds
      ? 'pg_advisory_lock_shared($1, hashtext($2)), pg_advisory_lock_shared($3, 0)'
      : 'pg_advisory_lock_shared($1, hashtext($2)), $3::int';
    await sql(`SELECT ${locks}`, [WAVE_LOCK_CLASS, batch.waveId, HOLD_LOCK_CLASS]);
    let pending: Promise<Outcome<BatchResult>>;
    let startedAt: Date;
    try {
      // Last look at the Retry-After block (another pump may have been throttled since our slot was reserved).
      if ((await this.throttle.blockedMs()) > 0) return 'blocked';
      const allowed = [
        this.wantedState,
        ...(this.job.kind === 'forward' && batch.attempts > 0 ? RESOLVING_STATES : []),
      ];
      const check = await markAttempt(sql, batch, this.workerId, this.leaseMs(), {
        generation: this.job.generation,
        allowedStates: allowed,
        checkHolds,
      });
      if (check !== 'attempted') return check;
      startedAt = new Date();
      pending = call();
      await Promise.race([pending, sleep(this.settings.guardMs)]);
    } finally {
      const unlocks = checkHolds
        ? 'pg_advisory_unlock_shared($1, hashtext($2)), pg_advisory_unlock_shared($3, 0)'
        : 'pg_advisory_unlock_shared($1, hashtext($2)), $3::int';
      await sql(`SELECT ${unlocks}`, [WAVE_LOCK_CLASS, batch.waveId, HOLD_LOCK_CLASS]);
    }
    return { outcome: await pending, startedAt };
  }

  /** The wave stopped while this batch waited: hand it back if it never left, else keep it (same key later). */
  private async stopWith(runner: QueryRunner, sql: Sql, batch: ClaimedBatch): Promise<PumpOutcome> {
    if (batch.attempts === 0) await inTransaction(runner, () => releaseBatch(sql, batch));
    return 'stopped';
  }

  private async record(sql: Sql, batch: ClaimedBatch, startedAt: Date, outcome: Outcome<BatchResult>): Promise<void> {
    await recordCall(sql, {
      waveId: batch.waveId,
      batchId: batch.id,
      items: batch.members.length,
      ...callRecord(startedAt, outcome),
    });
  }

  /** Nothing left to claim for this pump: finish the wave, or pause it at a ramp step boundary. */
  private async onDrained(sql: Sql, wave: WaveRuntime): Promise<void> {
    if (this.job.kind === 'rollback') {
      const counters = await readCounters(sql, wave.id);
      if ((counters['rollback:in_flight'] ?? 0) > 0 || (counters.in_flight ?? 0) > 0) return;
      if ((counters['rollback:pending'] ?? 0) === 0) {
        await this.commands.completeRollback(wave.id);
        return;
      }
      // Members left and nobody on them: forward batches in flight when the rollback began settled since, below
      // every pump's floor. Fresh pumps start from the first member (only if one is there to claim, so pumps
      // cannot hand the wave to each other forever should the counters ever disagree with the members).
      if (await rollbackLeft(sql, wave.id)) {
        await this.commands.addPumps(wave.id, 'rollback', wave.generation, wave.concurrency);
      }
      return;
    }
    const w = await readDrainState(sql, wave.id);
    // In flight: the last batches settle in other pumps, which finish the step or the wave.
    if (!w || w.inFlight > 0 || w.pendingInStep) return;
    if (!w.pendingAny) {
      // Eventual propagation: the verifier completes the wave after its read-back.
      if (await this.verifier.readyToComplete(wave.id)) await this.commands.complete(wave.id);
      return;
    }
    // Pending members only beyond the step's limit: the step is done, bake before the next one.
    const step = w.steps[w.currentStep];
    await this.commands.stepPause(wave.id, w.currentStep, step?.bakeSeconds ?? 0);
  }
}
