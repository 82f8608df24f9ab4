import type { SkipReason } from './eligibility';
import type { WaveState } from './wave-state';

/*
 * The codes of a wave's batches and members: the batch kinds, and the reasons a member ends with, as the engine
 * writes them to wave_members (reason, rollback_reason) and to the counters (`failed:<reason>`,
 * `rollback:failed:<reason>`) and every reader (progress, the support lookup) tests them. Declared once, here; the
 * mapping from the mailstore's answers onto them is libs/core/src/engine/member-outcome.ts.
 */

/** The batch kinds: a wave's forward pass, and its rollback. */
export const BATCH_KINDS = ['forward', 'rollback'] as const;
export type BatchKind = (typeof BATCH_KINDS)[number];

/** The wave state in which the pumps of each kind send calls. */
export const DISPATCH_STATES = { forward: 'running', rollback: 'rolling_back' } as const satisfies {
  readonly [K in BatchKind]: WaveState;
};
export type DispatchState = (typeof DISPATCH_STATES)[BatchKind];

export function isDispatchState(state: WaveState): state is DispatchState {
  return BATCH_KINDS.some((kind) => DISPATCH_STATES[kind] === state);
}

/** The kind of batch a wave sends in a dispatching state. */
export function dispatchedKind(state: DispatchState): BatchKind {
  return BATCH_KINDS.find((kind) => DISPATCH_STATES[kind] === state)!;
}

/** The mailstore does not know the login (an item answered `not_found`, a PATCH `404 account_not_found`). */
export const ACCOUNT_NOT_FOUND = 'account_not_found';
/** `ifVersion` refused on a forward item: somebody changed the account since we read it. */
export const CONFLICT = 'conflict';
/** A pending member ended by a cancel, a halt or a rollback before any batch claimed it. */
export const WAVE_STOPPED = 'wave_stopped';

/**
 * A batch's answer (or support's 412) that cannot be read yet: another writer of ours (a wave's batch already sent, a
 * support operation begun) may have written one of its accounts without having recorded it. The batch is resent later
 * under its key; when that keeps happening, the wave pauses with this as its last error (the mailstore is fine).
 */
export const UNDECIDED_OTHER_WRITER = 'undecided_other_writer';

/** The failure reasons of our own; any other is the mailstore's code, made safe by `errorCode`. */
export const FAILURE_REASONS = [ACCOUNT_NOT_FOUND, CONFLICT] as const;

/** A mailstore error code as stored and counted: only `errorCode` makes one. */
export type ErrorCode = string & { readonly __brand: 'ErrorCode' };

/** Why a member failed (forward `reason`, rollback `rollback_reason`). */
export type FailureReason = (typeof FAILURE_REASONS)[number] | ErrorCode;

/** wave_members.reason: why a member was skipped, failed or cancelled; null while pending or once enabled. */
export type MemberReason = SkipReason | FailureReason | typeof WAVE_STOPPED;

const UNSAFE = /[^a-z0-9_.-]/gi;
const LEADING = /^[_.-]+/;
const MAX_CODE = 64;

/**
 * A code from the mailstore (an item's error, a failed call's code) made safe to store and to name a counter
 * (`failed:<code>`, whose rule is in counter-delta.ts): at most 64 characters of [A-Za-z0-9_.-] starting with a
 * letter or a digit, anything else replaced by `_` (leading ones dropped); `invalid` when nothing is left.
 */
export function errorCode(raw: string): ErrorCode {
  const clean = raw.replace(UNSAFE, '_').replace(LEADING, '').slice(0, MAX_CODE);
  return (clean || 'invalid') as ErrorCode;
}

/** Whether a member's outcome says the mailstore does not know its login. */
export function answeredNotFound(member: { state: string; reason: string | null }): boolean {
  return member.state === 'failed' && member.reason === ACCOUNT_NOT_FOUND;
}
