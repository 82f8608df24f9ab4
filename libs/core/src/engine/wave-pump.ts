import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { DataSource } from 'typeorm';
import { backoffMs, DISPATCH_STATES, retryAfterWithJitter } from '@app/domain';
import { BatchResult, Mailstore, Outcome } from '@app/mailstore';
import { WavePumpJob } from '@app/queue';
import { WaveCommandsService } from '../waves/wave-commands.service';
import { markNothingApplied, releaseBatch, takeOverStaleBatch } from './batch-lease.repository';
import { recordCall, settleForward, settleRollback } from './batch-settle.repository';
import { callRecord } from './call-record';
import { BatchLostError, ClaimedBatch, WaveRuntime } from './batch.types';
import { claimForwardBatch } from './forward-batch.repository';
import { claimRollbackBatch } from './rollback-batch.repository';
import { PumpHolds } from './pump-holds';
import { BatchSender } from './batch-sender';
import { Sql, sqlOf } from '../db/sql';
import { ReserveRequest, sleep, sleepUntil, Throttle } from './throttle';
import { onPumpDrained } from './pump-drained';
import { loadWaveRuntime } from './wave-runtime.repository';
import { WaveVerifier } from './wave-verifier';
import { EngineSettings } from './engine-settings';
import { BatchEnd, EngineMetrics, NO_ENGINE_METRICS } from './engine-metrics';

/** How often a pump looks for batches whose lease expired (each pump; the lease itself is much longer). */
const STALE_CHECK_INTERVAL_MS = 1000;

/** Wave states in which forward batches with an unknown outcome are still finished (never new ones). */
const RESOLVING_STATES = ['cancelled', 'rolling_back'];

export type PumpOutcome = 'drained' | 'stopped' | 'superseded' | 'paused_unreachable' | 'paused_unauthorized';

/** How long a pump waits before asking again for a permit whose row a command or a change holds (busy). */
const BUSY_RETRY_MS = 25;

/** Reading the accounts again after one changed under a permit: at most this many times in a row, then `busy`. */
const MAX_CHANGED_RETRIES = 5;

/**
 * One concurrency slot of a wave: books its slot in the global pace (at most 250 ms ahead), claims a batch while
 * the slot comes, has its BatchSender take the batch's send permit (state, ownership and every eligibility rule
 * checked in the statement that commits the attempt) and start the call within the permit's window, writes the
 * answer, and goes on until the wave is drained, stopped, or a newer generation took over. It returns an outcome;
 * it throws only to be retried.
 *
 * It holds a fresh batch only from its booked slot's horizon on (so no pace wait can outlast a lease), keeps the
 * lease alive through every other wait, and every write it makes for a batch names the lease generation it holds:
 * a pump that lost its batch (frozen, starved) changes nothing and learns it with BatchLostError.
 */
export class WavePump {
  private readonly workerId: string;
  /** Highest seq this pump has claimed: its next claim starts the index scan there. */
  private floor = 0;
  /** When this pump next looks for a batch whose lease expired. */
  private nextStaleCheckAt = 0;
  /** This pump's concurrency slot (a lease in PostgreSQL: one pump per slot, whatever the queue does) and batch lease. */
  private readonly holds: PumpHolds;
  /** Permit and call: the way from a claimed batch to the wire. */
  private readonly sender: BatchSender;

  constructor(
    private readonly dataSource: DataSource,
    private readonly client: Mailstore,
    private readonly throttle: Throttle,
    private readonly commands: WaveCommandsService,
    private readonly verifier: WaveVerifier,
    private readonly settings: EngineSettings,
    private readonly job: WavePumpJob,
    jobId: string,
    private readonly signal?: AbortSignal,
    private readonly metrics: EngineMetrics = NO_ENGINE_METRICS,
  ) {
    // Unique per pump run (the same job may run twice in one process after its lock was lost): it names the
    // holder of the slot and of every batch this pump claims.
    this.workerId = `${hostname()}/${process.pid}/${jobId}/${randomBytes(4).toString('hex')}`;
    this.holds = new PumpHolds(
      { waveId: job.waveId, kind: job.kind, slot: job.slot, holder: this.workerId },
      this.leaseMs(),
    );
    this.sender = new BatchSender(client, throttle, this.holds, job.kind, {
      incidentAt: settings.incidentAt,
      sendWindowMs: settings.sendWindowMs,
      leaseMs: this.leaseMs(),
    });
  }

  private get wantedState(): string {
    return DISPATCH_STATES[this.job.kind];
  }

  async run(): Promise<PumpOutcome> {
    const runner = this.dataSource.createQueryRunner();
    await runner.connect();
    try {
      const sql = sqlOf(runner);
      const held = await this.holdSlot(sql);
      if (held !== 'held') return held;
      for (;;) {
        if (this.signal?.aborted) return 'stopped';
        if (!(await this.holds.keepSlot(sql))) return 'superseded';
        const wave = await this.loadWave(sql);
        if (!wave) return 'stopped';
        if (wave.generation !== this.job.generation) return 'superseded';
        if (wave.state !== this.wantedState) return await this.resolveLeftovers(sql, wave);
        const next = await this.nextBatch(sql, wave);
        if (next === 'drained') {
          await this.onDrained(sql, wave);
          return 'drained';
        }
        if (next === 'stopped') return 'stopped';
        const result = await this.deliver(sql, wave, next.batch, next.paced);
        if (result !== 'settled') return result;
      }
    } finally {
      // Best effort: if the connection is gone, the slot's lease expires by itself.
      await this.holds.releaseSlot(sqlOf(runner)).catch(() => undefined);
      await runner.release();
    }
  }

  /**
   * Waits until this pump holds its slot: another pump of the same slot (a job added again after a Redis wipe, a
   * frozen worker's) may still run it; the slot is free when that one exits or its lease expires.
   */
  private async holdSlot(sql: Sql): Promise<'held' | 'stopped' | 'superseded'> {
    for (;;) {
      if (this.signal?.aborted) return 'stopped';
      const busyMs = await this.holds.takeSlot(sql);
      if (busyMs === 0) return 'held';
      const wave = await this.loadWave(sql);
      if (!wave) return 'stopped';
      if (wave.generation !== this.job.generation) return 'superseded';
      if (wave.state !== this.wantedState && !RESOLVING_STATES.includes(wave.state)) return 'stopped';
      await sleep(Math.min(busyMs, STALE_CHECK_INTERVAL_MS));
    }
  }

  /**
   * A cancelled or rolling-back wave may still hold forward batches that reached the mailstore with an unknown
   * outcome (timeout, reset). Each is finished with its own idempotency key, so every account ends in one
   * terminal outcome: the replay returns the stored answer, or applies exactly what was asked before the stop
   * (and a rollback then restores it). No new batch is ever claimed here.
   */
  private async resolveLeftovers(sql: Sql, wave: WaveRuntime): Promise<PumpOutcome> {
    if (this.job.kind !== 'forward' || !RESOLVING_STATES.includes(wave.state)) return 'stopped';
    for (;;) {
      const batch = await takeOverStaleBatch(sql, wave.id, 'forward', this.workerId, this.leaseMs());
      if (!batch) return 'stopped';
      this.holds.leaseRenewed();
      const result = await this.deliver(sql, wave, batch, false);
      if (result !== 'settled') return result;
    }
  }

  /** The wave states in which this batch may be sent: the wave runs, or it is an attempted batch being resolved. */
  private allowedStates(batch: ClaimedBatch): string[] {
    return this.job.kind === 'forward' && batch.attempts > 0
      ? [this.wantedState, ...RESOLVING_STATES]
      : [this.wantedState];
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

  /** The pace request for `cost` accounts of this pump's wave and lane. */
  private paceRequest(wave: WaveRuntime, cost: number): ReserveRequest {
    const caps = this.client.cachedCapabilities();
    return {
      cost,
      waveRate: this.rate(wave),
      waveKey: `${wave.id}:${this.job.kind}`,
      mailstoreRate: caps?.rateLimits.accountUpdatesPerSecond ?? 0,
    };
  }

  private async stillRunning(sql: Sql): Promise<boolean> {
    if (this.signal?.aborted || !(await this.holds.keepSlot(sql))) return false;
    const wave = await this.loadWave(sql);
    return wave?.state === this.wantedState && wave.generation === this.job.generation;
  }

  /**
   * The next batch: one whose lease expired (taken over, sent again as claimed), else a fresh claim made once the
   * pace slot for a full batch is booked (at most the horizon ahead), so a pump never holds members through a
   * long pace wait.
   */
  private async nextBatch(
    sql: Sql,
    wave: WaveRuntime,
  ): Promise<{ batch: ClaimedBatch; paced: boolean } | 'drained' | 'stopped'> {
    const stale = await this.takeOverStale(sql, wave.id);
    if (stale) return { batch: stale, paced: false };
    const size = this.batchSize(wave);
    // The slot is booked first (at most the throttle's horizon, 250 ms, ahead: far less than a lease); the batch is
    // claimed while it comes, so only the permit stands between the slot and the call.
    const slotAt = await this.throttle.book(this.paceRequest(wave, size), () => this.stillRunning(sql));
    if (slotAt === null) return 'stopped';
    const lease = this.leaseMs();
    const claim = async (floor: number): Promise<ClaimedBatch | null> => {
      if (this.job.kind === 'rollback') {
        const batch = await claimRollbackBatch(sql, wave.id, size, this.workerId, lease, floor);
        if (batch) this.floor = batch.members[batch.members.length - 1].seq;
        return batch;
      }
      const result = await claimForwardBatch(sql, wave, size, this.workerId, lease, floor);
      if (result.batch) {
        this.floor = result.lastSeq;
        this.sender.claimed(result.batch.id, result.accounts);
      }
      return result.batch;
    };
    let batch = await claim(this.floor);
    if (!batch && this.floor > 0) {
      // Members below the floor can be claimable again only after another pump released a batch: look once from
      // the start.
      this.floor = 0;
      batch = await claim(0);
    }
    if (batch) {
      this.holds.leaseRenewed();
      await sleepUntil(slotAt);
      return { batch, paced: true };
    }
    const left = await this.takeOverStale(sql, wave.id, true);
    if (!left) return 'drained';
    await sleepUntil(slotAt);
    return { batch: left, paced: true };
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
    const batch = await takeOverStaleBatch(sql, waveId, this.job.kind, this.workerId, this.leaseMs());
    if (batch) this.holds.leaseRenewed();
    return batch;
  }

  /** At least the mailstore's request timeout plus 5 s (checked with the environment at boot). */
  private leaseMs(): number {
    return this.settings.leaseMs;
  }

  /** Sends one batch until it has a definitive answer, or the wave stops. `paced`: its pace slot has come. */
  private async deliver(
    sql: Sql,
    wave: WaveRuntime,
    batch: ClaimedBatch,
    paced: boolean,
  ): Promise<'settled' | PumpOutcome> {
    let failures = 0;
    let changed = 0;
    let needsPace = !paced;
    try {
      for (;;) {
        // Waiting for the pace never counts as a retry attempt; the lease is kept alive meanwhile.
        if (needsPace) {
          const paced = await this.throttle.acquire(this.paceRequest(wave, batch.members.length), async () => {
            if (!(await this.holds.keepSlot(sql))) return false;
            if (!this.allowedStates(batch).includes((await this.loadWave(sql))?.state ?? '')) return false;
            await this.holds.keepLease(sql, batch);
            return true;
          });
          if (!paced) return this.stopWith(sql, batch);
        }
        needsPace = true;
        // A slot reserved before another pump's 429 must not be used inside that Retry-After.
        const blocked = await this.throttle.blockedMs();
        if (blocked > 0) {
          await this.holds.waitHolding(sql, batch, blocked);
          continue;
        }
        const sent = await this.sender.send(sql, batch, {
          wave,
          allowedStates: this.allowedStates(batch),
          pace: this.paceRequest(wave, batch.members.length),
        });
        if (sent === 'stopped') return this.stopWith(sql, batch);
        if (sent === 'nothing_to_send') return this.ended('nothing_to_send', 'settled'); // all skipped at the permit
        if (sent === 'busy' || sent === 'changed' || sent === 'late') {
          // A command or an import holds a row the permit needs, an account changed under it, or the window was
          // missed: ask again (the slot has been used; a missed window means the pump itself was late).
          if (sent === 'changed' && ++changed < MAX_CHANGED_RETRIES) {
            needsPace = false;
            continue;
          }
          changed = 0;
          needsPace = sent === 'late';
          if (!needsPace) await sleep(BUSY_RETRY_MS);
          continue;
        }
        const { outcome, startedAt, inDoubtBefore } = sent;
        this.metrics.batchSent(this.job.kind, outcome.kind);
        if (outcome.kind === 'ok') {
          // One statement writes the answer and logs the call.
          const call = callRecord(startedAt, outcome);
          if (this.job.kind === 'forward') await settleForward(sql, batch, outcome.value.results, call);
          else await settleRollback(sql, batch, outcome.value.results, call);
          await this.throttle.reward();
          return this.ended('applied', 'settled');
        }
        if (outcome.kind === 'rate_limited' || outcome.kind === 'unavailable' || outcome.kind === 'in_progress') {
          // Nothing applied: everybody waits Retry-After and the pace halves; same key next time. Blocking
          // comes first, before any bookkeeping, so other dispatchers learn of it as early as possible.
          await this.throttle.penalize(retryAfterWithJitter(outcome.retryAfterMs / 1000, Math.random));
          this.metrics.retryAfter('wave', outcome.retryAfterMs);
          await this.record(sql, batch, startedAt, outcome);
          if (outcome.kind !== 'in_progress') await markNothingApplied(sql, batch, inDoubtBefore); // 409: still runs
          await this.holds.coverWait(sql, batch, outcome.retryAfterMs);
          continue;
        }
        await this.record(sql, batch, startedAt, outcome);
        if (outcome.kind === 'retryable') {
          if (!outcome.outcomeUnknown) await markNothingApplied(sql, batch, inDoubtBefore);
          failures++;
          if (failures >= this.settings.maxConsecutiveFailures) {
            // The batch keeps its key and members (outcome unknown); resume retries it as is.
            await this.commands.systemPause(wave.id, 'mailstore_unreachable', {
              batchId: batch.id,
              lastError: outcome.code,
              attempts: failures,
            });
            return this.ended('paused', 'paused_unreachable');
          }
          await this.holds.waitHolding(
            sql,
            batch,
            backoffMs(failures, { ...this.settings.retryBackoff, random: Math.random }),
          );
          continue;
        }
        // Permanent: 401/403 stop everything (never retried); anything else fails the batch's members.
        if (outcome.status === 401 || outcome.status === 403) {
          await this.commands.systemPause(wave.id, 'mailstore_unreachable', {
            batchId: batch.id,
            status: outcome.status,
            code: outcome.code,
          });
          return this.ended('paused', 'paused_unauthorized');
        }
        // Cleaned by the settle (errorCode), as every code an item carries.
        const code = `http_${outcome.status}_${outcome.code}`;
        const results = batch.members.map((m) => ({ account: m.login, status: 'invalid' as const, error: { code } }));
        if (this.job.kind === 'forward') await settleForward(sql, batch, results);
        else await settleRollback(sql, batch, results);
        return this.ended('refused', 'settled');
      }
    } catch (err) {
      if (err instanceof BatchLostError) return this.ended('lost', 'settled'); // another worker owns it now
      throw err;
    }
  }

  /** The wave stopped while this batch waited: hand it back if it never left, else keep it (same key later). */
  private async stopWith(sql: Sql, batch: ClaimedBatch): Promise<PumpOutcome> {
    if (batch.attempts === 0) await releaseBatch(sql, batch);
    return this.ended(batch.attempts === 0 ? 'released' : 'stopped', 'stopped');
  }

  /** Counts how this pump finished with its batch (the worker's /metrics), and passes `result` on. */
  private ended<R>(end: BatchEnd, result: R): R {
    this.metrics.batchEnded(this.job.kind, end);
    return result;
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
  private onDrained(sql: Sql, wave: WaveRuntime): Promise<void> {
    return onPumpDrained(sql, this.commands, this.verifier, wave, this.job.kind);
  }
}
