import { Protocol } from '@app/domain';
import { BatchLostError, ClaimedBatch, EligibilityRow } from './batch.types';
import { decidePermit, firstPermitOutcome, PermitResult, permitOutcome } from './permit-decision';
import { PermitTimes, SendPermitRepository } from './send-permit.repository';
import { Sql } from '../db/sql';

/**
 * A batch's send permits (see send-permit.repository.ts for what the statement checks): reads the accounts,
 * decides, writes the permit, and brings the batch in hand up to date with it. Throws BatchLostError when the batch
 * is no longer this worker's.
 */
export class BatchPermits {
  constructor(
    private readonly repo: SendPermitRepository,
    /** Passwords changed at or before this instant are considered known to the attackers. */
    private readonly incidentAt: Date,
  ) {}

  /**
   * The first attempt of a forward batch, or a later one when no attempt before it may have applied anything (429,
   * 503, a failure before the request left; the key then changes with the body): decides eligibility on the accounts
   * as read (or as the claim read them: `read`, made safe by the epoch check), and takes the permit. On success
   * `batch.members` is the eligible ones, with their prior state; `nothing_to_send` when none is eligible (the batch
   * is closed).
   */
  async first(
    sql: Sql,
    batch: ClaimedBatch,
    wave: { protocols: Protocol[]; generation: number },
    times: PermitTimes,
    read?: readonly EligibilityRow[],
  ): Promise<PermitResult> {
    const rows =
      read ??
      (await this.repo.readEligibility(
        sql,
        batch.waveId,
        batch.members.map((m) => m.seq),
      ));
    // The latest instant the call may start (the send window): an override must still be live then.
    const decision = decidePermit(rows, wave.protocols, this.incidentAt, new Date(Date.now() + times.windowMs));
    const check = await this.repo.grantFirstForward(sql, batch, {
      wave,
      epoch: rows[0]?.epoch ?? '-1',
      priors: decision.eligible.map((m) => [m.seq, m.priorImap, m.priorPop3, m.version]),
      skipped: decision.skipped,
      skippedDelta: decision.skippedDelta,
      times,
    });
    const outcome = firstPermitOutcome(check);
    if (outcome === 'lost') throw new BatchLostError(batch.id);
    if (outcome !== 'granted') return outcome;
    batch.members = decision.eligible;
    batch.idempotencyKey = check.key ?? batch.idempotencyKey;
    batch.keySince = check.keySince ?? batch.keySince;
    if (!decision.eligible.length) return 'nothing_to_send';
    batch.attempts++;
    batch.inDoubt = true;
    return 'granted';
  }

  /** Any other attempt (a forward retry, resent unchanged, or a rollback batch). */
  async attempt(
    sql: Sql,
    batch: ClaimedBatch,
    wave: { generation: number; allowedStates: readonly string[] },
    times: PermitTimes,
  ): Promise<Exclude<PermitResult, 'changed' | 'nothing_to_send'>> {
    const outcome = permitOutcome(await this.repo.grantAttempt(sql, batch, wave, times));
    if (outcome === 'lost') throw new BatchLostError(batch.id);
    if (outcome !== 'granted') return outcome;
    batch.attempts++;
    batch.inDoubt = true;
    return 'granted';
  }

  /**
   * The worker missed its send window (it was stopped or starved between the permit and the call): the call was
   * never started, so the attempt is taken back and the batch decided again at its next permit. If the batch was
   * taken over meanwhile, nothing changes (the new owner resends it under the same key).
   */
  async withdraw(sql: Sql, batch: ClaimedBatch, inDoubtBefore: boolean): Promise<void> {
    if (!(await this.repo.withdrawAttempt(sql, batch, inDoubtBefore))) throw new BatchLostError(batch.id);
    batch.attempts--;
    batch.inDoubt = inDoubtBefore;
  }
}
