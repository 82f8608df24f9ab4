import {
  BatchKind,
  dispatchedKind,
  isDispatchState,
  isNotStarted,
  loosens,
  nextWindowOpening,
  nextWindowTransition,
  normalizeWavePolicy,
  PauseReason,
  TimeWindows,
  transition,
  TransitionContext,
  WaveCommand,
  WaveState,
  WINDOW_CLOSE_LEAD_MS,
  windowOpenFor,
} from '@app/domain';
import { IllegalTransitionError } from '../errors';
import type { NewWave, WaveChanges, WaveRow } from './wave.repository';
import { CreateWaveInput, UpdateWaveInput, WAVE_DEFAULTS } from './wave.types';

/*
 * The decisions of the wave commands, pure: what a command does to a wave as read under its lock (the state machine
 * is libs/domain's `transition`; this adds what the service must write and queue for it). WaveCommandRunner and
 * WaveCommandsService carry them out; wave-command-plan.spec.ts checks them without a database.
 */

/** What a lifecycle command will do, decided on the wave's row as locked. */
export interface CommandPlan {
  from: WaveState;
  /** The state written (the current one on a no-op). */
  to: WaveState;
  /** Nothing changes: nothing is written, no pump queued. */
  noop: boolean;
  /**
   * Halt means halt: unless the wave goes on sending as it was, calls permitted before this commit start within their
   * send window or never, and the command answers once that window has passed, never waiting on a worker. A repeated
   * pause too: its answer promises the same as the pause it repeats, which may still be waiting.
   */
  waitForPermits: boolean;
  /** The status reason to store; null clears it (and the status detail). */
  pauseReason: PauseReason | null;
  /** The pumps' generation after the command: a new one whenever the wave enters a dispatching state. */
  generation: number;
  /** The kind of pumps to queue after the commit (the new generation), when the wave now dispatches. */
  pumps: BatchKind | null;
  /** Membership: resolved once at the first start, or the ramp's limit moved to the next step after a bake. */
  membership: 'freeze' | 'next_step' | null;
  /** Pending members end cancelled (a cancel, or a rollback of a started wave: nothing more goes forward). */
  cancelPending: boolean;
  /** The rollback begins: count the members it will restore. */
  countRollback: boolean;
}

/** Decides a lifecycle command; throws IllegalTransitionError (the 409 with the allowed commands) when refused. */
export function planCommand(
  wave: Pick<WaveRow, 'state' | 'status_reason' | 'generation' | 'member_count'>,
  command: WaveCommand,
  context: TransitionContext,
): CommandPlan {
  const currentReason = (wave.status_reason as PauseReason | null) ?? null;
  const t = transition(wave.state, command, { ...context, currentReason });
  if (!t.ok) throw new IllegalTransitionError(wave.state, command, t.allowed, t.detail);
  const to = t.noop ? wave.state : t.to;
  const dispatchTo = !t.noop && isDispatchState(t.to) ? t.to : null;
  const freeze = !t.noop && t.effects.includes('freeze_membership');
  return {
    from: wave.state,
    to,
    noop: t.noop,
    waitForPermits: !(to === wave.state && isDispatchState(to)),
    pauseReason: t.noop ? currentReason : t.pauseReason,
    generation: dispatchTo ? wave.generation + 1 : wave.generation,
    pumps: dispatchTo ? dispatchedKind(dispatchTo) : null,
    membership: freeze
      ? 'freeze'
      : !t.noop && command === 'resume' && currentReason === 'ramp_bake'
        ? 'next_step'
        : null,
    cancelPending:
      !t.noop && (t.effects.includes('cancel_pending') || (t.to === 'rolling_back' && wave.member_count !== null)),
    countRollback: !t.noop && t.effects.includes('begin_rollback'),
  };
}

/** A new wave's stored values: the plan as given, with the defaults filled in. */
export function newWave(input: CreateWaveInput, actor: string, startAt: Date | null): NewWave {
  return {
    name: input.name.trim(),
    description: input.description ?? null,
    selector: input.selector,
    protocols: [...input.protocols].sort(),
    startLocal: input.startLocal ?? null,
    timeZone: input.timeZone ?? null,
    startAt,
    ratePerSecond: input.ratePerSecond,
    rollbackRatePerSecond: input.rollbackRatePerSecond ?? input.ratePerSecond,
    batchSize: input.batchSize ?? WAVE_DEFAULTS.batchSize,
    concurrency: input.concurrency ?? WAVE_DEFAULTS.concurrency,
    steps: input.steps ?? [],
    gates: input.gates ?? [],
    reclose: input.reclose ?? null,
    windows: input.windows ?? null,
    approvalPolicy: normalizeWavePolicy(input.approvalPolicy),
    createdBy: actor,
  };
}

/** What an update writes and queues; `changes` null when the input changes nothing. */
export interface UpdatePlan {
  changes: WaveChanges | null;
  /** A scheduled wave whose start moved: its delayed start job, for the version the update writes. */
  restartAt: Date | null;
  /** More concurrency while dispatching: pumps for the new slots, in the current generation. */
  morePumps: { kind: BatchKind; concurrency: number } | null;
  /** The windows changed: the wave's next window edge is armed again (it may open or close at once). */
  windowsChanged: boolean;
}

/** Decides an update (rate, batch size, concurrency and gates change also while running); throws when refused. */
export function planUpdate(
  wave: Pick<WaveRow, 'state' | 'concurrency'> & Partial<Pick<WaveRow, 'approval_policy'>>,
  input: UpdateWaveInput,
  startAt: Date | null,
): UpdatePlan {
  if (wave.state === 'rolled_back') {
    throw new IllegalTransitionError(wave.state, 'update', [], 'a rolled back wave cannot change');
  }
  if ((input.steps || input.startLocal) && !isNotStarted(wave.state)) {
    throw new IllegalTransitionError(
      wave.state,
      'update',
      [],
      'steps and start time can change only before the wave starts',
    );
  }
  if (input.approvalPolicy !== undefined && loosens(wave.approval_policy ?? null, input.approvalPolicy)) {
    throw new IllegalTransitionError(
      wave.state,
      'update',
      [],
      "a wave's approval policy only tightens: a rule dropped or a rate bound raised is refused",
    );
  }
  const changes: WaveChanges = {
    name: input.name?.trim(),
    description: input.description,
    ratePerSecond: input.ratePerSecond,
    rollbackRatePerSecond: input.rollbackRatePerSecond,
    batchSize: input.batchSize,
    concurrency: input.concurrency,
    gates: input.gates,
    reclose: input.reclose,
    windows: input.windows,
    steps: input.steps,
    approvalPolicy: input.approvalPolicy === undefined ? undefined : normalizeWavePolicy(input.approvalPolicy),
    start:
      input.startLocal !== undefined
        ? { startLocal: input.startLocal, timeZone: input.timeZone ?? null, startAt }
        : undefined,
  };
  if (Object.values(changes).every((v) => v === undefined)) {
    return { changes: null, restartAt: null, morePumps: null, windowsChanged: false };
  }
  const state = wave.state;
  return {
    changes,
    windowsChanged: input.windows !== undefined,
    restartAt: state === 'scheduled' && startAt ? startAt : null,
    morePumps:
      input.concurrency && input.concurrency > wave.concurrency && isDispatchState(state)
        ? { kind: dispatchedKind(state), concurrency: input.concurrency }
        : null,
  };
}

/**
 * The scheduled start fires when it is due: how late it fires (ms, never negative). Refused (the caller's no-op) when
 * the wave has no start or it is not due yet.
 */
export function scheduleLateness(wave: Pick<WaveRow, 'state' | 'start_at'>, now: Date): number {
  if (!wave.start_at || wave.start_at.getTime() > now.getTime()) {
    throw new IllegalTransitionError(wave.state, 'fire_schedule', [], 'not due yet');
  }
  return Math.max(0, now.getTime() - wave.start_at.getTime());
}

/**
 * When a wave's time windows next need the service (docs/windows.md), as read now: a running wave when its window
 * closes (WINDOW_CLOSE_LEAD_MS early, so no call starts after the close; now if it is closed already), a wave paused
 * outside its window when the window opens (now if it is open, or has no windows any more). Null: nothing to watch.
 */
export function windowEdgeAt(
  wave: { state: WaveState; status_reason: string | null; windows: TimeWindows | null },
  now: Date,
): Date | null {
  const w = wave.windows;
  if (wave.state === 'running') {
    if (!w) return null;
    if (!windowOpenFor(w, now, WINDOW_CLOSE_LEAD_MS)) return now;
    const closes = nextWindowTransition(w, now);
    return closes ? new Date(Math.max(now.getTime(), closes.getTime() - WINDOW_CLOSE_LEAD_MS)) : null;
  }
  if (wave.state === 'paused' && wave.status_reason === 'outside_window') {
    if (!w || windowOpenFor(w, now, WINDOW_CLOSE_LEAD_MS)) return now;
    return nextWindowOpening(w, now);
  }
  return null;
}

/** Whether the wave may send now, as the commands and the engine both judge it (windowEdgeAt's rule). */
export function windowAllowsSending(windows: TimeWindows | null, now: Date): boolean {
  return windows === null || windowOpenFor(windows, now, WINDOW_CLOSE_LEAD_MS);
}
