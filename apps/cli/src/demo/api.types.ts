/**
 * The parts of the HTTP API's answers the story reads (the API's DTOs describe them in full, see /docs).
 * Dates arrive as ISO strings.
 */
import type { SlowReason } from '@app/domain';

export type WaveState =
  'draft' | 'scheduled' | 'running' | 'paused' | 'completed' | 'cancelled' | 'halted' | 'rolling_back' | 'rolled_back';

/** POST /accounts/import answers the import service's report as is. */
export type { ImportReport } from '@app/core';

export interface GateSpec {
  name: string;
  metric: 'mailstore_error_rate' | 'mailstore_p95_latency_ms' | 'signal';
  signal?: string;
  cohort?: string;
  windowSeconds: number;
  minSamples: number;
  threshold: number;
  action: 'pause' | 'halt' | 'halt_and_rollback';
}

export interface WaveSpec {
  name: string;
  description?: string;
  selector: { type: 'cohorts'; cohorts: string[] } | { type: 'remaining' } | { type: 'logins'; logins: string[] };
  protocols: ('imap' | 'pop3')[];
  startLocal?: string;
  timeZone?: string;
  ratePerSecond: number;
  batchSize?: number;
  concurrency?: number;
  steps?: { percent: number; bakeSeconds: number }[];
  gates?: GateSpec[];
  /** The wave's own two-person approval rules (docs/approvals.md). */
  approvalPolicy?: { require: string[]; rateBound?: number | null };
}

export interface Wave {
  id: string;
  name: string;
  state: WaveState;
  startLocal: string | null;
  timeZone: string | null;
  startAt: string | null;
  ratePerSecond: number;
  memberCount: number | null;
}

export interface WavePreview {
  members: number;
  eligible: number;
  skips: Record<string, number>;
  batchSize: number;
  batches: number;
  ratePerSecond: number;
  /** The mailstore's limits as a worker last read them; null before any did. */
  mailstore: { batchSizeLimit: number; accountUpdatesPerSecond: number; readAt: string } | null;
  projectedDuration: { totalSeconds: number; sendingSeconds: number; bakeSeconds: number };
  steps: { percent: number; bakeSeconds: number; memberLimit: number }[];
}

export interface CommandResult {
  id: string;
  from: WaveState;
  state: WaveState;
  noop: boolean;
}

interface MemberCounts {
  pending: number;
  in_flight: number;
  enabled: number;
  skipped: number;
  failed: number;
  cancelled: number;
  /** In flight in a batch kept for a retry (counted out of `in_flight`). */
  awaiting_retry?: number;
}

/** A rollback's progress (the API's `rollback` field): null until the wave is rolled back. */
interface RollbackProgress {
  total: number;
  counts: {
    pending: number;
    in_flight: number;
    rolled_back: number;
    unchanged: number;
    conflict: number;
    failed: number;
    awaiting_retry: number;
  };
  failureReasons: Record<string, number>;
  done: number;
  doneFraction: number;
}

export interface WaveProgress {
  waveId: string;
  name: string;
  state: WaveState;
  statusReason: string | null;
  statusText: string;
  total: number;
  counts: MemberCounts;
  skipReasons: Record<string, number>;
  failureReasons: Record<string, number>;
  done: number;
  doneFraction: number;
  rollback?: RollbackProgress | null;
  /** The lane that moves: the forward rate, or the rollback's while rolling back (so is etaSeconds). */
  rate: { observedPerSecond: number; targetPerSecond: number; windowSeconds: number };
  /** What holds a sending wave below its target (docs/runbook.md, "Below its target"). */
  pace?: {
    factor: number | null;
    retryAfterSeconds: number | null;
    mailstoreRatePerSecond: number | null;
    ceilingPerSecond: number | null;
    slowReasons: SlowReason[];
  };
  etaSeconds: number | null;
  step: { index: number; count: number; percent: number; bakeSecondsLeft: number | null };
  gates: { name: string; status: string; value: number | null; threshold: number; reason: string }[];
  startAt: string | null;
  startedAt: string | null;
  completedAt: string | null;
  asOf: string;
}

export interface ProgressOverview {
  asOf: string;
  waves: WaveProgress[];
}

export interface Operation {
  id: string;
  login: string;
  kind: 'enable' | 'disable' | 'rollback';
  protocols: string[];
  reason: string;
  ticket: string;
  actor: string;
  overrides: string[];
  overrideExpiresAt: string | null;
  state: 'queued' | 'running' | 'succeeded' | 'failed';
  outcome: string | null;
  error: Record<string, unknown> | null;
  createdAt: string;
  completedAt: string | null;
}

export interface Account {
  login: string;
  cohorts: string[];
  leaked: boolean;
  passwordChangedAt: string | null;
  access: { imap: boolean; pop3: boolean; mailstoreVersion: number | null };
  held: boolean;
  hold?: { reason: string | null; ticket: string | null; by: string | null; at: string | null } | null;
  override: { reason: string | null; ticket: string | null; by: string | null } | null;
  eligibility: { eligible: boolean; reason: string | null };
  waves: {
    name: string;
    /** The wave's own state: a member `enabled` by a wave since rolled back is closed again. */
    waveState?: string;
    memberState: string;
    reason: string | null;
    /** Its wave's rollback for this member: pending, in_flight, rolled_back, unchanged, conflict, failed; or null. */
    rollbackState?: string | null;
  }[];
  /** The most recent support operations, newest first. */
  operations?: Operation[];
}

/** An approval request (GET /approvals/{id}). */
export interface Approval {
  id: string;
  command: string;
  rule: string;
  state: string;
  hash: string;
  requestedBy: string;
  decidedBy: string | null;
  counts: { eligible: number; heldBack: Record<string, number> } | null;
}
