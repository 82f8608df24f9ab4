/**
 * The wave lifecycle as a pure state machine.
 *
 *   draft ⇄ scheduled → running ⇄ paused → completed
 *   draft | scheduled | running | paused | halted → cancelled
 *   running | paused → halted (a gate)
 *   running | paused | halted | completed | cancelled → rolling_back → rolled_back
 *
 * Callers persist `to` (and `pauseReason`) with a conditional UPDATE on the state they read, so two racing
 * commands cannot both win; this module only says what is allowed and what it implies.
 */

export const WAVE_STATES = [
  'draft',
  'scheduled',
  'running',
  'paused',
  'completed',
  'cancelled',
  'halted',
  'rolling_back',
  'rolled_back',
] as const;
export type WaveState = (typeof WAVE_STATES)[number];

export const WAVE_COMMANDS = [
  'schedule',
  'unschedule',
  'start',
  'fire_schedule',
  'pause',
  'resume',
  'cancel',
  'halt',
  'complete',
  'rollback',
  'rollback_complete',
  'step_pause',
  'gate_pause',
  'window_closed',
  'window_opened',
] as const;
export type WaveCommand = (typeof WAVE_COMMANDS)[number];

/** The lifecycle commands a person sends (`POST /waves/{id}/<command>`); the others are the service's own. */
export const OPERATOR_COMMANDS = [
  'schedule',
  'unschedule',
  'start',
  'pause',
  'resume',
  'cancel',
  'rollback',
] as const satisfies readonly WaveCommand[];
export type OperatorCommand = (typeof OPERATOR_COMMANDS)[number];
const isOperatorCommand = (command: WaveCommand): command is OperatorCommand =>
  (OPERATOR_COMMANDS as readonly WaveCommand[]).includes(command);

/** Who issues a command: a person through the ops API, or the service itself (scheduler, ramp, gates). */
export type ActorKind = 'ops' | 'system';

/** Why a wave is paused (or halted); stored verbatim in `waves.status_reason`. */
export type PauseReason =
  'ops' | 'ramp_bake' | `gate:${string}` | `inconclusive:${string}` | 'mailstore_unreachable' | 'outside_window';

/** What the caller must do besides writing the new state. */
export type WaveEffect =
  | 'freeze_membership' // first entry into running: resolve the selector into wave_members once
  | 'record_schedule_fire' // store schedule_fired_at and the lateness
  | 'stop_forward' // stop claiming forward batches; in-flight ones settle normally
  | 'cancel_pending' // pending members become cancelled (counters: pending -> cancelled)
  | 'clear_bake' // forget bake_until: the ramp step was resumed early or overridden
  | 'begin_rollback' // queue every member the wave changed for restoration
  | 'finish_rollback';

export interface TransitionContext {
  /** Defaults to 'system': least privilege, so an ops-only resume must say who asks. */
  actor?: ActorKind;
  /** The wave's current status reason; needed to decide whether a paused wave may resume automatically. */
  currentReason?: PauseReason | null;
  /**
   * For `gate_pause`: `gate:<name>`, `inconclusive:<name>` or `mailstore_unreachable` (required).
   * For `halt`: `gate:<name>`, stored as the status reason (optional: a halt is never refused).
   */
  reason?: PauseReason;
}

export interface TransitionOk {
  ok: true;
  from: WaveState;
  to: WaveState;
  command: WaveCommand;
  /** True when nothing changes (a repeated rollback, pausing a wave already paused by ops). */
  noop: boolean;
  /** Rollback of a running wave: stop forward batches and let in-flight calls settle before restoring. */
  stopFirst: boolean;
  /** The status reason to store when `to` is paused or halted; null clears it. */
  pauseReason: PauseReason | null;
  effects: readonly WaveEffect[];
}

export interface TransitionRefused {
  ok: false;
  code: 'illegal_transition';
  from: WaveState;
  command: WaveCommand;
  /** Commands this state accepts for the same actor (allowedCommands): what a 409 answer lists. */
  allowed: WaveCommand[];
  detail: string;
}

export type TransitionResult = TransitionOk | TransitionRefused;

type Rule = (from: WaveState, ctx: Required<Pick<TransitionContext, 'actor'>> & TransitionContext) => RuleOutcome;
type RuleOutcome =
  | { to: WaveState; noop?: boolean; stopFirst?: boolean; pauseReason?: PauseReason; effects?: WaveEffect[] }
  | { refuse: string };

const go =
  (to: WaveState, extra: Omit<Extract<RuleOutcome, { to: WaveState }>, 'to'> = {}): Rule =>
  () => ({ to, ...extra });

const GATE_REASON = /^(gate|inconclusive):[^\s]+$/;

const rollback: Rule = (from) =>
  isRolledBack(from)
    ? { to: from, noop: true } // idempotent: a second rollback request must not look like a failure to ops
    : { to: 'rolling_back', stopFirst: from === 'running', effects: ['stop_forward', 'begin_rollback'] };

const resume: Rule = (from, ctx) => {
  if (ctx.actor === 'ops') return { to: 'running', effects: ['clear_bake'] };
  // Halt means halt: only a person brings a halted wave back. The system may only end its own ramp bake.
  if (from === 'halted') return { refuse: 'a halted wave resumes only by an explicit ops command' };
  if (ctx.currentReason !== 'ramp_bake') {
    return { refuse: `only ops may resume a wave paused for ${ctx.currentReason ?? 'an unknown reason'}` };
  }
  return { to: 'running', effects: ['clear_bake'] };
};

const gatePause: Rule = (from, ctx) => {
  const reason = ctx.reason;
  if (reason === undefined || !(GATE_REASON.test(reason) || reason === 'mailstore_unreachable')) {
    return { refuse: 'gate_pause needs a reason gate:<name>, inconclusive:<name> or mailstore_unreachable' };
  }
  // On a paused wave the reason is replaced, so a ramp bake ending cannot auto-resume past a gate.
  return { to: 'paused', pauseReason: reason, noop: from === 'paused' && ctx.currentReason === reason };
};

const pause: Rule = (from, ctx) =>
  // Pausing during a ramp bake turns it into an ops pause, so the bake end no longer resumes it.
  ({ to: 'paused', pauseReason: 'ops', noop: from === 'paused' && ctx.currentReason === 'ops' });

/*
 * Time windows (time-windows.ts): the service pauses a running wave when its window closes and resumes it when the
 * window opens, but only a pause of its own. An ops pause, a gate's, a bake stays what it is; a bake that ends outside
 * the window resumes, and the engine then pauses it for the window.
 */
const windowClosed: Rule = (from, ctx) => {
  if (ctx.actor === 'ops') return { refuse: `only its time windows close a ${from} wave` };
  if (from === 'running') return { to: 'paused', pauseReason: 'outside_window' };
  if (ctx.currentReason === 'outside_window') return { to: 'paused', noop: true };
  return {
    refuse: `the wave is paused for ${ctx.currentReason ?? 'an unknown reason'}; its window does not change that`,
  };
};

const windowOpened: Rule = (from, ctx) => {
  if (ctx.actor === 'ops') return { refuse: `only its time windows open a ${from} wave` };
  if (ctx.currentReason !== 'outside_window') {
    return {
      refuse: `only a wave paused outside its window resumes when it opens, not one paused for ${ctx.currentReason ?? 'an unknown reason'}`,
    };
  }
  return { to: 'running' };
};

const cancel = go('cancelled', { effects: ['stop_forward', 'cancel_pending'] });
// Halt is never refused for a missing reason: stopping must always work. The reason names the gate when known.
const halt: Rule = (_from, ctx) => ({
  to: 'halted',
  effects: ['stop_forward'],
  ...(ctx.reason !== undefined && GATE_REASON.test(ctx.reason) ? { pauseReason: ctx.reason } : {}),
});

/** The transition table: absent entries are illegal. */
const TABLE: Record<WaveState, Partial<Record<WaveCommand, Rule>>> = {
  draft: {
    schedule: go('scheduled'),
    start: go('running', { effects: ['freeze_membership'] }),
    cancel: go('cancelled'),
  },
  scheduled: {
    unschedule: go('draft'),
    start: go('running', { effects: ['freeze_membership'] }),
    fire_schedule: go('running', { effects: ['freeze_membership', 'record_schedule_fire'] }),
    cancel: go('cancelled'),
  },
  running: {
    pause,
    step_pause: go('paused', { pauseReason: 'ramp_bake' }),
    gate_pause: gatePause,
    window_closed: windowClosed,
    halt,
    complete: go('completed'),
    cancel,
    rollback,
  },
  paused: {
    pause,
    resume,
    gate_pause: gatePause,
    window_closed: windowClosed,
    window_opened: windowOpened,
    halt,
    cancel,
    rollback,
  },
  halted: { resume, cancel, rollback },
  completed: { rollback },
  cancelled: { rollback },
  rolling_back: { rollback, rollback_complete: go('rolled_back', { effects: ['finish_rollback'] }) },
  rolled_back: { rollback },
};

function evaluate(state: WaveState, command: WaveCommand, context: TransitionContext = {}): RuleOutcome | undefined {
  const rule = TABLE[state][command];
  return rule?.(state, { ...context, actor: context.actor ?? 'system' });
}

/**
 * Commands `state` accepts for this actor and context (the same check `transition` makes): for a person (`ops`), those
 * a person sends (OPERATOR_COMMANDS), not the service's own (fire_schedule, halt, gate_pause …) that a 409 would
 * otherwise offer; for the service, all of them.
 */
export function allowedCommands(state: WaveState, context: TransitionContext = {}): WaveCommand[] {
  const commands = context.actor === 'ops' ? WAVE_COMMANDS.filter(isOperatorCommand) : WAVE_COMMANDS;
  return commands.filter((command) => {
    const outcome = evaluate(state, command, command === 'gate_pause' ? { reason: 'gate:any', ...context } : context);
    return outcome !== undefined && 'to' in outcome;
  });
}

export function transition(state: WaveState, command: WaveCommand, context: TransitionContext = {}): TransitionResult {
  const outcome = evaluate(state, command, context);
  if (outcome === undefined || 'refuse' in outcome) {
    return {
      ok: false,
      code: 'illegal_transition',
      from: state,
      command,
      allowed: allowedCommands(state, context),
      detail: outcome?.refuse ?? `${command} is not allowed when the wave is ${state}`,
    };
  }
  return {
    ok: true,
    from: state,
    to: outcome.to,
    command,
    noop: outcome.noop ?? false,
    stopFirst: outcome.stopFirst ?? false,
    pauseReason: outcome.pauseReason ?? null,
    effects: outcome.noop === true ? [] : (outcome.effects ?? []),
  };
}

/**
 * The wave has ended: completed, cancelled or rolled back. Nothing of it moves until ops rolls it back (a completed or
 * cancelled wave may be); progress shows no ETA and a rate measured up to its end.
 */
export function isFinished(state: string): boolean {
  return (FINISHED_STATES as readonly string[]).includes(state);
}
export const FINISHED_STATES = ['completed', 'cancelled', 'rolled_back'] as const satisfies readonly WaveState[];

/** The wave has not started: its membership is not frozen yet, and its plan (start, steps, selector) may still change. */
export function isNotStarted(state: string): boolean {
  return state === 'draft' || state === 'scheduled';
}

/** The wave itself is rolled back, or rolling back: what it enabled is being, or has been, closed again. */
export function isRolledBack(state: WaveState): boolean {
  return state === 'rolling_back' || state === 'rolled_back';
}

/** Halt means halt: only these states may start a provider call; checked before every batch is sent. */
export function acceptsNewCalls(state: WaveState): boolean {
  return state === 'running' || state === 'rolling_back';
}
