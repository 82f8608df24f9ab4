import { BatchKind, Protocol, TimeWindows, WaveState } from '@app/domain';
import { BatchItem, BatchOptions } from '@app/mailstore';

/** One member of a claimed batch, with what is needed to build (or rebuild, identically) its request item. */
export interface BatchMember {
  seq: number;
  accountId: number;
  login: string;
  /** Prior state captured at claim (forward) or recorded by the forward call (rollback). */
  priorImap: boolean;
  priorPop3: boolean;
  /** Forward: the version before; rollback: its ifVersion (ROLLBACK_IF_VERSION). */
  version: number | null;
}

/** A member as stored in wave_members (with its login), read back to send or resend its batch. */
export interface StoredMemberRow {
  seq: number;
  account_id: string;
  login: string;
  prior_imap: boolean | null;
  prior_pop3: boolean | null;
  version: number | null;
}

/** What a permit decides eligibility on: a member's account as read, with the eligibility epoch of that read. */
export interface EligibilityRow {
  seq: number;
  account_id: string;
  login: string;
  leaked: boolean;
  password_changed_at: Date | null;
  held: boolean;
  override_reason: string | null;
  override_ticket: string | null;
  override_expires_at: Date | null;
  imap_enabled: boolean;
  pop3_enabled: boolean;
  mailstore_version: number | null;
  epoch: string;
}

export function memberFromRow(r: StoredMemberRow): BatchMember {
  return {
    seq: r.seq,
    accountId: Number(r.account_id),
    login: r.login,
    priorImap: r.prior_imap ?? false,
    priorPop3: r.prior_pop3 ?? false,
    version: r.version,
  };
}

/**
 * A batch that holds members in_flight and has a durable idempotency key. Before its first forward attempt its
 * members are only claimed (eligibility and prior state are decided by the send permit); from then on it must be
 * sent (again) as is.
 */
export interface ClaimedBatch {
  id: number;
  waveId: string;
  kind: BatchKind;
  idempotencyKey: string;
  attempts: number;
  /**
   * Attempts made under earlier keys (a forward batch decided again gets a new key): the request id counts the
   * attempts under the current key, `<key>#1` first.
   */
  keySince: number;
  /** The lease generation this worker holds (fencing): every write for the batch is conditioned on it. */
  fence: number;
  /**
   * Forward: an earlier attempt may have applied something (from its permit until an answer said nothing was
   * applied). In doubt, the batch is resent as it was, under its key; otherwise its next permit decides again.
   */
  inDoubt: boolean;
  members: BatchMember[];
}

export interface WaveRuntime {
  id: string;
  state: WaveState;
  protocols: Protocol[];
  ratePerSecond: number;
  rollbackRatePerSecond: number;
  batchSize: number;
  concurrency: number;
  stepLimitSeq: number | null;
  generation: number;
  statusReason: string | null;
  /** Its time windows (docs/windows.md); null: any time. */
  windows: TimeWindows | null;
}

/**
 * The request for a batch, built only from what was recorded at claim, so a retry after a crash sends the
 * identical body under the same idempotency key (a different body would be refused as a reused key).
 */
export function buildRequest(
  kind: BatchKind,
  waveId: string,
  protocols: readonly Protocol[],
  members: readonly BatchMember[],
): { items: BatchItem[]; options: BatchOptions } {
  if (kind === 'forward') {
    return {
      items: members.map((m) => ({ account: m.login, protocols: desiredOn(protocols, m) })),
      options: { revokeSessions: false, reason: `wave ${waveId}` },
    };
  }
  return {
    items: members.map((m) => ({
      account: m.login,
      protocols: restore(protocols, m),
      ...(m.version !== null ? { ifVersion: m.version } : {}),
    })),
    // Sessions are revoked only where a protocol goes from on to off (contract, section 3).
    options: { revokeSessions: true, reason: `rollback of wave ${waveId}` },
  };
}

/** Forward: only the wave's protocols that were off (the desired state, never a toggle). */
function desiredOn(protocols: readonly Protocol[], m: BatchMember): { imap?: boolean; pop3?: boolean } {
  const out: { imap?: boolean; pop3?: boolean } = {};
  if (protocols.includes('imap') && !m.priorImap) out.imap = true;
  if (protocols.includes('pop3') && !m.priorPop3) out.pop3 = true;
  return out;
}

/** Rollback: each protocol the wave turned on goes back to its own prior value. */
function restore(protocols: readonly Protocol[], m: BatchMember): { imap?: boolean; pop3?: boolean } {
  const out: { imap?: boolean; pop3?: boolean } = {};
  if (protocols.includes('imap') && !m.priorImap) out.imap = false;
  if (protocols.includes('pop3') && !m.priorPop3) out.pop3 = false;
  return out;
}

/** Thrown when another worker took the batch over (our lease expired): its answer is theirs to write. */
export class BatchLostError extends Error {
  constructor(readonly batchId: number) {
    super(`batch ${batchId} is no longer ours`);
    this.name = 'BatchLostError';
  }
}
