import { CounterDelta, decideEligibility, eligibilityAccount, Protocol, settleDelta, SkipReason } from '@app/domain';
import { BatchMember, EligibilityRow } from './batch.types';

/*
 * What a send permit decides, apart from the statement that commits it (send-permit.repository.ts): which members
 * of a batch are sent (every eligibility rule, the domain's decideEligibility), and what the statement's answer
 * means for the pump. Pure: unit-tested in permit-decision.spec.ts.
 */

/** What a permit attempt gave. `busy`: a row it needs is being changed right now (retry shortly). */
export type PermitResult = 'granted' | 'stopped' | 'busy' | 'changed' | 'nothing_to_send';

/** A member the permit ends as skipped, with its reason (written with its ledger row in the permit's statement). */
export interface SkippedMember {
  seq: number;
  accountId: string;
  login: string;
  reason: SkipReason;
}

/** A first permit's decision on its batch's accounts as read. */
export interface PermitDecision {
  /** Sent, with the prior state the request is built from (now and on every retry). */
  eligible: BatchMember[];
  skipped: SkippedMember[];
  /** The counters' change for the skipped members. */
  skippedDelta: CounterDelta;
}

/**
 * Decides each member on its account as read. `callBy`: the latest instant the call may start (the end of the send
 * window), which an override must outlive to count.
 */
export function decidePermit(
  rows: readonly EligibilityRow[],
  protocols: readonly Protocol[],
  incidentAt: Date,
  callBy: Date,
): PermitDecision {
  const eligible: BatchMember[] = [];
  const skipped: SkippedMember[] = [];
  for (const row of rows) {
    const decision = decideEligibility(eligibilityAccount(accountRecord(row), callBy), protocols, incidentAt);
    if (decision.eligible) {
      eligible.push({
        seq: row.seq,
        accountId: Number(row.account_id),
        login: row.login,
        priorImap: row.imap_enabled,
        priorPop3: row.pop3_enabled,
        version: row.mailstore_version,
      });
    } else {
      skipped.push({ seq: row.seq, accountId: row.account_id, login: row.login, reason: decision.reason });
    }
  }
  const skippedDelta = settleDelta(skipped.map(({ reason }) => ({ state: 'skipped' as const, reason })));
  return { eligible, skipped, skippedDelta };
}

function accountRecord(row: EligibilityRow) {
  return {
    leaked: row.leaked,
    passwordChangedAt: row.password_changed_at,
    held: row.held,
    overrideReason: row.override_reason,
    overrideTicket: row.override_ticket,
    overrideExpiresAt: row.override_expires_at,
    imapEnabled: row.imap_enabled,
    pop3Enabled: row.pop3_enabled,
  };
}

/**
 * What a permit's statement saw of the rows it locks FOR SHARE SKIP LOCKED (never waiting, never failing): whether
 * each came back locked, and the same condition read without a lock.
 */
export interface PermitCheck {
  /** The wave row, in the pump's generation and an allowed state. */
  lockedWave: boolean;
  waveAsRead: boolean | null;
  /** The batch row was still this worker's (its lease generation) and the attempt was written. */
  attempted: boolean;
}

/** A first forward permit's checks: the wave's, and the eligibility epoch's the accounts were read at. */
export interface FirstPermitCheck extends PermitCheck {
  lockedEpoch: boolean;
  epochAsRead: boolean | null;
}

/**
 * What a permit's answer means: a row skipped tells why by the same condition read without a lock (still true: a
 * command holds the row right now, `busy`; false: the wave no longer allows the call, `stopped`). The rows locked
 * but no attempt written: the batch is no longer ours (`lost`).
 */
export function permitOutcome(check: PermitCheck): 'granted' | 'stopped' | 'busy' | 'lost' {
  if (!check.lockedWave) return check.waveAsRead ? 'busy' : 'stopped';
  return check.attempted ? 'granted' : 'lost';
}

/** The same for a first forward permit, whose epoch row, skipped, means `busy` (a change commits) or `changed`. */
export function firstPermitOutcome(check: FirstPermitCheck): 'granted' | 'stopped' | 'busy' | 'changed' | 'lost' {
  if (check.lockedWave && !check.lockedEpoch) return check.epochAsRead ? 'busy' : 'changed';
  return permitOutcome(check);
}
