import fc from 'fast-check';
import {
  acceptsNewCalls,
  isFinished,
  isNotStarted,
  isRolledBack,
  allowedCommands,
  PauseReason,
  transition,
  TransitionContext,
  OPERATOR_COMMANDS,
  WAVE_COMMANDS,
  WAVE_STATES,
  WaveCommand,
  WaveState,
} from './wave-state';

// Every state × command, as ops would issue it (gate_pause/halt carry their gate reason).
// A cell is the target state, or '-' for an illegal transition (409).
const MATRIX: Record<WaveState, Record<WaveCommand, WaveState | '-'>> = {
  // prettier-ignore
  draft: { schedule: 'scheduled', unschedule: '-', start: 'running', fire_schedule: '-', pause: '-', resume: '-', cancel: 'cancelled', halt: '-', complete: '-', rollback: '-', rollback_complete: '-', step_pause: '-', gate_pause: '-', window_closed: '-', window_opened: '-' },
  // prettier-ignore
  scheduled: { schedule: '-', unschedule: 'draft', start: 'running', fire_schedule: 'running', pause: '-', resume: '-', cancel: 'cancelled', halt: '-', complete: '-', rollback: '-', rollback_complete: '-', step_pause: '-', gate_pause: '-', window_closed: '-', window_opened: '-' },
  // prettier-ignore
  running: { schedule: '-', unschedule: '-', start: '-', fire_schedule: '-', pause: 'paused', resume: '-', cancel: 'cancelled', halt: 'halted', complete: 'completed', rollback: 'rolling_back', rollback_complete: '-', step_pause: 'paused', gate_pause: 'paused', window_closed: '-', window_opened: '-' },
  // prettier-ignore
  paused: { schedule: '-', unschedule: '-', start: '-', fire_schedule: '-', pause: 'paused', resume: 'running', cancel: 'cancelled', halt: 'halted', complete: '-', rollback: 'rolling_back', rollback_complete: '-', step_pause: '-', gate_pause: 'paused', window_closed: '-', window_opened: '-' },
  // prettier-ignore
  halted: { schedule: '-', unschedule: '-', start: '-', fire_schedule: '-', pause: '-', resume: 'running', cancel: 'cancelled', halt: '-', complete: '-', rollback: 'rolling_back', rollback_complete: '-', step_pause: '-', gate_pause: '-', window_closed: '-', window_opened: '-' },
  // prettier-ignore
  completed: { schedule: '-', unschedule: '-', start: '-', fire_schedule: '-', pause: '-', resume: '-', cancel: '-', halt: '-', complete: '-', rollback: 'rolling_back', rollback_complete: '-', step_pause: '-', gate_pause: '-', window_closed: '-', window_opened: '-' },
  // prettier-ignore
  cancelled: { schedule: '-', unschedule: '-', start: '-', fire_schedule: '-', pause: '-', resume: '-', cancel: '-', halt: '-', complete: '-', rollback: 'rolling_back', rollback_complete: '-', step_pause: '-', gate_pause: '-', window_closed: '-', window_opened: '-' },
  // prettier-ignore
  rolling_back: { schedule: '-', unschedule: '-', start: '-', fire_schedule: '-', pause: '-', resume: '-', cancel: '-', halt: '-', complete: '-', rollback: 'rolling_back', rollback_complete: 'rolled_back', step_pause: '-', gate_pause: '-', window_closed: '-', window_opened: '-' },
  // prettier-ignore
  rolled_back: { schedule: '-', unschedule: '-', start: '-', fire_schedule: '-', pause: '-', resume: '-', cancel: '-', halt: '-', complete: '-', rollback: 'rolled_back', rollback_complete: '-', step_pause: '-', gate_pause: '-', window_closed: '-', window_opened: '-' },
};

const opsContext = (command: WaveCommand): TransitionContext =>
  command === 'gate_pause' || command === 'halt' ? { actor: 'ops', reason: 'gate:errors' } : { actor: 'ops' };

describe('wave state machine', () => {
  const cells = WAVE_STATES.flatMap((state) =>
    WAVE_COMMANDS.map((command) => [state, command, MATRIX[state][command]] as const),
  );

  it('covers every state and command', () => {
    expect(cells).toHaveLength(9 * 15);
  });

  it.each(cells)('%s + %s -> %s', (state, command, expected) => {
    const result = transition(state, command, opsContext(command));
    if (expected === '-') {
      expect(result).toMatchObject({ ok: false, code: 'illegal_transition', from: state, command });
      if (!result.ok) {
        expect(result.allowed).not.toContain(command);
        expect(result.detail).toContain(state);
      }
    } else {
      expect(result).toMatchObject({ ok: true, from: state, to: expected, command });
    }
  });

  it.each(WAVE_STATES)(
    'allowedCommands(%s) lists exactly the legal cells: all for the service, a person’s for ops',
    (state) => {
      const legal = WAVE_COMMANDS.filter((command) => MATRIX[state][command] !== '-');
      expect(allowedCommands(state, { actor: 'ops' })).toEqual(
        legal.filter((c) => (OPERATOR_COMMANDS as readonly string[]).includes(c)),
      );
    },
  );

  it('offers a person only the commands a person sends; the service, every command the state accepts', () => {
    const refused = (actor: 'ops' | 'system') => transition('scheduled', 'resume', { actor });
    expect(refused('ops')).toMatchObject({ ok: false, allowed: ['unschedule', 'start', 'cancel'] });
    expect(refused('system')).toMatchObject({ ok: false, allowed: ['unschedule', 'start', 'fire_schedule', 'cancel'] });
    for (const state of WAVE_STATES) {
      const r = transition(state, 'unschedule', { actor: 'ops' });
      if (!r.ok) expect(r.allowed.every((c) => (OPERATOR_COMMANDS as readonly string[]).includes(c))).toBe(true);
    }
  });

  describe('rollback', () => {
    it('stops a running wave first', () => {
      expect(transition('running', 'rollback')).toMatchObject({
        ok: true,
        stopFirst: true,
        noop: false,
        effects: ['stop_forward', 'begin_rollback'],
      });
    });

    it.each(['paused', 'halted', 'completed', 'cancelled'] as const)('from %s does not need a stop', (state) => {
      expect(transition(state, 'rollback')).toMatchObject({ ok: true, to: 'rolling_back', stopFirst: false });
    });

    it.each(['rolling_back', 'rolled_back'] as const)('is an idempotent no-op from %s', (state) => {
      expect(transition(state, 'rollback')).toEqual({
        ok: true,
        from: state,
        to: state,
        command: 'rollback',
        noop: true,
        stopFirst: false,
        pauseReason: null,
        effects: [],
      });
    });
  });

  describe('resume', () => {
    it('by the system ends a ramp bake', () => {
      expect(transition('paused', 'resume', { actor: 'system', currentReason: 'ramp_bake' })).toMatchObject({
        ok: true,
        to: 'running',
        pauseReason: null,
        effects: ['clear_bake'],
      });
    });

    it.each([
      ['ops', 'paused'],
      ['gate:errors', 'paused'],
      ['inconclusive:logins', 'paused'],
      ['mailstore_unreachable', 'paused'],
      [null, 'paused'],
      ['gate:errors', 'halted'],
      ['ramp_bake', 'halted'],
    ] as const)('by the system is refused when the reason is %s and the wave is %s', (currentReason, state) => {
      const result = transition(state, 'resume', { actor: 'system', currentReason });
      expect(result).toMatchObject({ ok: false, code: 'illegal_transition' });
      if (!result.ok) expect(result.allowed).not.toContain('resume');
    });

    it('defaults to the system actor, so ops must identify itself to resume a halted wave', () => {
      expect(transition('halted', 'resume').ok).toBe(false);
      expect(transition('halted', 'resume', { actor: 'ops' })).toMatchObject({ ok: true, to: 'running' });
    });

    it.each(['ops', 'gate:errors', 'inconclusive:x', 'ramp_bake', 'mailstore_unreachable'] as const)(
      'by ops works whatever the pause reason (%s)',
      (currentReason) => {
        expect(transition('paused', 'resume', { actor: 'ops', currentReason }).ok).toBe(true);
      },
    );
  });

  describe('pause reasons', () => {
    it('step_pause records ramp_bake', () => {
      expect(transition('running', 'step_pause')).toMatchObject({ to: 'paused', pauseReason: 'ramp_bake' });
    });

    it('ops pause during a bake replaces the reason so the bake end cannot resume it', () => {
      const result = transition('paused', 'pause', { actor: 'ops', currentReason: 'ramp_bake' });
      expect(result).toMatchObject({ ok: true, to: 'paused', pauseReason: 'ops', noop: false });
      expect(transition('paused', 'resume', { actor: 'system', currentReason: 'ops' }).ok).toBe(false);
    });

    it('pausing a wave already paused by ops is a no-op', () => {
      expect(transition('paused', 'pause', { actor: 'ops', currentReason: 'ops' })).toMatchObject({
        ok: true,
        noop: true,
        pauseReason: 'ops',
        effects: [],
      });
    });

    it.each(['gate:error-rate', 'inconclusive:failed_logins', 'mailstore_unreachable'] as const)(
      'gate_pause stores %s',
      (reason) => {
        expect(transition('running', 'gate_pause', { reason })).toMatchObject({ ok: true, pauseReason: reason });
        expect(transition('paused', 'gate_pause', { reason, currentReason: 'ramp_bake' })).toMatchObject({
          ok: true,
          noop: false,
          pauseReason: reason,
        });
        expect(transition('paused', 'gate_pause', { reason, currentReason: reason })).toMatchObject({ noop: true });
      },
    );

    it.each([undefined, 'ops', 'ramp_bake'] as const)('gate_pause without a gate reason (%s) is refused', (reason) => {
      expect(transition('running', 'gate_pause', { reason }).ok).toBe(false);
    });

    it('halt stores the gate reason when given and never refuses for lack of one', () => {
      expect(transition('running', 'halt', { reason: 'gate:logins' })).toMatchObject({
        ok: true,
        pauseReason: 'gate:logins',
        effects: ['stop_forward'],
      });
      expect(transition('paused', 'halt')).toMatchObject({ ok: true, to: 'halted', pauseReason: null });
    });
  });

  describe('effects', () => {
    it.each([
      ['draft', 'start', ['freeze_membership']],
      ['scheduled', 'start', ['freeze_membership']],
      ['scheduled', 'fire_schedule', ['freeze_membership', 'record_schedule_fire']],
      ['running', 'cancel', ['stop_forward', 'cancel_pending']],
      ['paused', 'cancel', ['stop_forward', 'cancel_pending']],
      ['draft', 'cancel', []],
      ['rolling_back', 'rollback_complete', ['finish_rollback']],
      ['running', 'complete', []],
    ] as const)('%s + %s -> %p', (state, command, effects) => {
      expect(transition(state, command, { actor: 'ops' })).toMatchObject({ ok: true, effects });
    });
  });

  describe('predicates', () => {
    const table = [
      ['draft', false, false, false, true],
      ['scheduled', false, false, false, true],
      ['running', true, false, false, false],
      ['paused', false, false, false, false],
      ['halted', false, false, false, false],
      ['completed', false, true, false, false],
      ['cancelled', false, true, false, false],
      ['rolling_back', true, false, true, false],
      ['rolled_back', false, true, true, false],
    ] as const;
    it.each(table)(
      '%s: acceptsNewCalls=%p, isFinished=%p, isRolledBack=%p, isNotStarted=%p',
      (state, calls, finished, rolled, notStarted) => {
        expect(acceptsNewCalls(state)).toBe(calls);
        expect(isFinished(state)).toBe(finished);
        expect(isRolledBack(state)).toBe(rolled);
        expect(isNotStarted(state)).toBe(notStarted);
      },
    );

    it('the table covers every state', () => {
      expect(table.map(([state]) => state).sort()).toEqual([...WAVE_STATES].sort());
    });
  });

  it('property: the system alone never brings a gate-paused or halted wave back to running', () => {
    const commands = fc.array(fc.constantFrom(...WAVE_COMMANDS), { maxLength: 30 });
    fc.assert(
      fc.property(fc.constantFrom<WaveState>('paused', 'halted'), commands, (start, sequence) => {
        let state: WaveState = start;
        let currentReason: PauseReason | null = 'gate:errors';
        for (const command of sequence) {
          const result = transition(state, command, { actor: 'system', reason: 'gate:errors', currentReason });
          if (!result.ok) continue;
          if (result.to === 'running') return false;
          state = result.to;
          currentReason = result.pauseReason;
        }
        return true;
      }),
    );
  });

  it('property: once rolling back, only rolling_back or rolled_back are reachable', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...WAVE_COMMANDS), { maxLength: 30 }), (sequence) => {
        let state: WaveState = 'rolling_back';
        for (const command of sequence) {
          const result = transition(state, command, { actor: 'ops', reason: 'gate:g' });
          if (result.ok) state = result.to;
          if (state !== 'rolling_back' && state !== 'rolled_back') return false;
        }
        return true;
      }),
    );
  });
});
