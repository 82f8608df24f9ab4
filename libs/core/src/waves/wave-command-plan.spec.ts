import {
  allowedCommands,
  PauseReason,
  TimeWindows,
  TransitionContext,
  WAVE_COMMANDS,
  WAVE_STATES,
  WaveState,
} from '@app/domain';
import { IllegalTransitionError } from '../errors';
import { newWave, planCommand, planUpdate, scheduleLateness, windowEdgeAt } from './wave-command-plan';
import { WAVE_DEFAULTS } from './wave.types';

const REASONS: (PauseReason | null)[] = [null, 'ops', 'ramp_bake', 'gate:errors', 'inconclusive:errors'];
const CONTEXTS: TransitionContext[] = [
  { actor: 'ops' },
  { actor: 'system' },
  { actor: 'system', reason: 'gate:errors' },
  { actor: 'system', reason: 'mailstore_unreachable' },
];
const wave = (state: WaveState, status_reason: PauseReason | null = null, member_count: number | null = 10) => ({
  state,
  status_reason,
  generation: 3,
  member_count,
});

/** Every command on every wave (state, reason, started or not) by every actor: its plan, or the error refusing it. */
function everyCommand() {
  const all = [];
  for (const state of WAVE_STATES)
    for (const reason of REASONS)
      for (const member_count of [null, 10])
        for (const command of WAVE_COMMANDS)
          for (const context of CONTEXTS) {
            const w = wave(state, reason, member_count);
            try {
              all.push({ w, command, context, plan: planCommand(w, command, context) });
            } catch (error) {
              all.push({ w, command, context, error });
            }
          }
  return all;
}
const ALL = everyCommand();
const DECIDED = ALL.flatMap(({ w, command, plan }) => (plan ? [{ w, command, plan }] : []));
const CHANGES = DECIDED.filter(({ plan }) => !plan.noop);
const dispatching = (state: WaveState) => state === 'running' || state === 'rolling_back';

describe('planCommand: what a lifecycle command writes and queues (every state, reason, command and actor)', () => {
  it('refuses what the state machine refuses, with the 409 listing the commands allowed', () => {
    for (const { w, context, error } of ALL.filter((a) => a.error)) {
      expect(error).toBeInstanceOf(IllegalTransitionError);
      expect((error as IllegalTransitionError).extra).toMatchObject({
        currentState: w.state,
        allowed: allowedCommands(w.state, { ...context, currentReason: w.status_reason }),
      });
    }
    expect(DECIDED.length).toBeGreaterThan(100);
    expect(ALL.length - DECIDED.length).toBeGreaterThan(100);
  });

  it('halt means halt: every command but one leaving a dispatching wave as it was waits for permits', () => {
    for (const { w, plan } of DECIDED) {
      expect(plan.from).toBe(w.state);
      expect(plan.waitForPermits).toBe(!(plan.to === w.state && dispatching(plan.to)));
    }
  });

  it('a no-op keeps the state and writes, counts and queues nothing', () => {
    for (const { w, plan } of DECIDED.filter((d) => d.plan.noop)) {
      expect(plan).toMatchObject({ to: w.state, generation: w.generation, pumps: null, membership: null });
      expect(plan).toMatchObject({ cancelPending: false, countRollback: false });
    }
  });

  it('a new generation of pumps, of the kind dispatched, exactly when the wave enters a dispatching state', () => {
    for (const { w, plan } of CHANGES) {
      expect(plan.pumps).toBe(plan.to === 'running' ? 'forward' : plan.to === 'rolling_back' ? 'rollback' : null);
      expect(plan.generation).toBe(dispatching(plan.to) ? w.generation + 1 : w.generation);
    }
  });

  it('membership is frozen at the first start, and the ramp moves on when a bake ends', () => {
    for (const { w, command, plan } of CHANGES) {
      const firstStart = ['start', 'fire_schedule'].includes(command) && ['draft', 'scheduled'].includes(w.state);
      expect(plan.membership === 'freeze').toBe(firstStart);
      expect(plan.membership === 'next_step').toBe(command === 'resume' && w.status_reason === 'ramp_bake');
    }
  });

  it('nothing more goes forward: a cancel of a started wave, or any rollback once members exist, ends the pending', () => {
    for (const { w, command, plan } of CHANGES) {
      expect(plan.countRollback).toBe(plan.to === 'rolling_back');
      expect(plan.cancelPending).toBe(
        (command === 'cancel' && ['running', 'paused', 'halted'].includes(w.state)) ||
          (plan.to === 'rolling_back' && w.member_count !== null),
      );
    }
  });
});

describe('planCommand: examples', () => {
  it('a first start freezes the membership and queues forward pumps of the next generation', () => {
    expect(planCommand(wave('draft', null, null), 'start', { actor: 'ops' })).toEqual({
      from: 'draft',
      to: 'running',
      noop: false,
      // It changes the state: whatever a permit granted before it was for, it answers once that permit has passed.
      waitForPermits: true,
      pauseReason: null,
      generation: 4,
      pumps: 'forward',
      membership: 'freeze',
      cancelPending: false,
      countRollback: false,
    });
  });

  it('a pause stores its reason and waits for permits; repeating it is a no-op that still waits', () => {
    expect(planCommand(wave('running'), 'pause', { actor: 'ops' })).toMatchObject({
      to: 'paused',
      pauseReason: 'ops',
      waitForPermits: true,
      pumps: null,
      generation: 3,
    });
    expect(planCommand(wave('paused', 'ops'), 'pause', { actor: 'ops' })).toMatchObject({
      noop: true,
      to: 'paused',
      waitForPermits: true,
    });
  });

  it('the end of a bake moves the ramp to its next step; an ops resume of an ops pause does not', () => {
    expect(planCommand(wave('paused', 'ramp_bake'), 'resume', { actor: 'system' }).membership).toBe('next_step');
    expect(planCommand(wave('paused', 'ops'), 'resume', { actor: 'ops' }).membership).toBeNull();
    expect(() => planCommand(wave('paused', 'ops'), 'resume', { actor: 'system' })).toThrow(IllegalTransitionError);
  });

  it('a rollback of a running wave cancels what is pending and counts what to restore; of an unstarted one only counts', () => {
    expect(planCommand(wave('running'), 'rollback', { actor: 'ops' })).toMatchObject({
      to: 'rolling_back',
      pumps: 'rollback',
      cancelPending: true,
      countRollback: true,
    });
    expect(planCommand(wave('cancelled', null, null), 'rollback', { actor: 'ops' })).toMatchObject({
      cancelPending: false,
      countRollback: true,
    });
    expect(planCommand(wave('rolling_back'), 'rollback', { actor: 'ops' })).toMatchObject({
      noop: true,
      waitForPermits: false,
    });
  });
});

describe('planUpdate', () => {
  const at = new Date('2026-05-09T06:00:00Z');

  it('refuses any change to a rolled back wave, and steps or start time once the wave has started', () => {
    expect(() => planUpdate({ state: 'rolled_back', concurrency: 4 }, { name: 'x' }, null)).toThrow(
      /a rolled back wave cannot change/,
    );
    for (const state of ['running', 'paused', 'halted', 'completed', 'cancelled', 'rolling_back'] as const) {
      expect(() => planUpdate({ state, concurrency: 4 }, { steps: [] }, null)).toThrow(/only before the wave starts/);
      expect(() => planUpdate({ state, concurrency: 4 }, { startLocal: '2026-05-09T08:00' }, at)).toThrow(
        /only before the wave starts/,
      );
      expect(planUpdate({ state, concurrency: 4 }, { ratePerSecond: 5 }, null).changes).toMatchObject({
        ratePerSecond: 5,
      });
    }
  });

  it('a change of windows, also to none, re-arms the window edge', () => {
    const windows = { timeZone: 'UTC', blackouts: [{ start: '2026-05-11T10:00', end: '2026-05-11T11:00' }] };
    expect(planUpdate({ state: 'paused', concurrency: 4 }, { windows }, null)).toMatchObject({
      changes: { windows },
      windowsChanged: true,
    });
    expect(planUpdate({ state: 'running', concurrency: 4 }, { windows: null }, null)).toMatchObject({
      changes: { windows: null },
      windowsChanged: true,
    });
  });

  it("tightens a wave's approval policy, never loosens it", () => {
    const wave = {
      state: 'draft' as const,
      concurrency: 4,
      approval_policy: { require: ['start' as const], rateBound: 100 },
    };
    expect(
      planUpdate(wave, { approvalPolicy: { require: ['rollback', 'start'], rateBound: 50 } }, null).changes,
    ).toMatchObject({ approvalPolicy: { require: ['start', 'rollback'], rateBound: 50 } });
    expect(() => planUpdate(wave, { approvalPolicy: { require: [], rateBound: 100 } }, null)).toThrow(/only tightens/);
    expect(() => planUpdate(wave, { approvalPolicy: null }, null)).toThrow(/only tightens/);
    expect(() => planUpdate(wave, { approvalPolicy: { require: ['start'], rateBound: 101 } }, null)).toThrow(
      /only tightens/,
    );
    expect(planUpdate({ state: 'draft', concurrency: 4 }, { approvalPolicy: null }, null).changes).toMatchObject({
      approvalPolicy: null,
    });
  });

  it('an empty input changes nothing; a null description is a change', () => {
    expect(planUpdate({ state: 'running', concurrency: 4 }, {}, null)).toEqual({
      changes: null,
      restartAt: null,
      morePumps: null,
      windowsChanged: false,
    });
    expect(
      planUpdate({ state: 'running', concurrency: 4 }, { description: null as unknown as string }, null).changes,
    ).toMatchObject({ description: null });
  });

  it('trims the name; a new start carries its zone (null when left out) and instant', () => {
    const plan = planUpdate(
      { state: 'scheduled', concurrency: 4 },
      { name: '  w  ', startLocal: '2026-05-09T08:00', timeZone: 'Europe/Paris' },
      at,
    );
    expect(plan.changes).toMatchObject({
      name: 'w',
      start: { startLocal: '2026-05-09T08:00', timeZone: 'Europe/Paris', startAt: at },
    });
    expect(plan.restartAt).toBe(at);
    expect(planUpdate({ state: 'draft', concurrency: 4 }, { startLocal: 'x' }, at)).toMatchObject({
      changes: { start: { startLocal: 'x', timeZone: null, startAt: at } },
      restartAt: null,
    });
  });

  it('more concurrency while dispatching queues pumps of the dispatched kind for the new slots; less or idle does not', () => {
    expect(planUpdate({ state: 'running', concurrency: 4 }, { concurrency: 6 }, null).morePumps).toEqual({
      kind: 'forward',
      concurrency: 6,
    });
    expect(planUpdate({ state: 'rolling_back', concurrency: 4 }, { concurrency: 6 }, null).morePumps).toEqual({
      kind: 'rollback',
      concurrency: 6,
    });
    expect(planUpdate({ state: 'running', concurrency: 4 }, { concurrency: 4 }, null).morePumps).toBeNull();
    expect(planUpdate({ state: 'paused', concurrency: 4 }, { concurrency: 8 }, null).morePumps).toBeNull();
  });
});

describe('newWave', () => {
  it('fills the defaults: rollback rate = rate, batch size, concurrency, no steps, no gates; protocols sorted', () => {
    const selector = { type: 'cohorts' as const, cohorts: ['x'] };
    const input = { name: ' a ', selector, protocols: ['pop3' as const, 'imap' as const], ratePerSecond: 7 };
    expect(newWave(input, 'ops:alice', null)).toEqual({
      name: 'a',
      description: null,
      selector,
      protocols: ['imap', 'pop3'],
      startLocal: null,
      timeZone: null,
      startAt: null,
      ratePerSecond: 7,
      reclose: null,
      windows: null,
      approvalPolicy: null,
      rollbackRatePerSecond: 7,
      batchSize: WAVE_DEFAULTS.batchSize,
      concurrency: WAVE_DEFAULTS.concurrency,
      steps: [],
      gates: [],
      createdBy: 'ops:alice',
    });
  });
});

describe('scheduleLateness', () => {
  const due = new Date('2026-05-09T06:00:00Z');
  it('is how late the start fires, refused before it is due or without a start', () => {
    expect(scheduleLateness({ state: 'scheduled', start_at: due }, new Date(due.getTime() + 1500))).toBe(1500);
    expect(scheduleLateness({ state: 'scheduled', start_at: due }, due)).toBe(0);
    expect(() => scheduleLateness({ state: 'scheduled', start_at: due }, new Date(due.getTime() - 1))).toThrow(
      IllegalTransitionError,
    );
    expect(() => scheduleLateness({ state: 'scheduled', start_at: null }, due)).toThrow(/not due yet/);
  });
});

describe('windowEdgeAt', () => {
  const windows: TimeWindows = { timeZone: 'UTC', allowed: [{ days: ['mon'], start: '08:00', end: '20:00' }] };
  const monday = (hhmmss: string) => new Date(`2026-05-11T${hhmmss}Z`);

  it('a running wave: its close, a lead early; now when closed already; nothing without windows', () => {
    const running = { state: 'running' as const, status_reason: null, windows };
    expect(windowEdgeAt(running, monday('12:00:00'))?.toISOString()).toBe('2026-05-11T19:59:59.000Z');
    expect(windowEdgeAt(running, monday('19:59:59.500'))?.toISOString()).toBe('2026-05-11T19:59:59.500Z');
    expect(windowEdgeAt(running, monday('21:00:00'))?.toISOString()).toBe('2026-05-11T21:00:00.000Z');
    expect(windowEdgeAt({ ...running, windows: null }, monday('21:00:00'))).toBeNull();
  });

  it('a wave paused outside its window: its opening; now when open or without windows; nothing for other pauses', () => {
    const waiting = { state: 'paused' as const, status_reason: 'outside_window', windows };
    expect(windowEdgeAt(waiting, monday('21:00:00'))?.toISOString()).toBe('2026-05-18T08:00:00.000Z');
    expect(windowEdgeAt(waiting, monday('09:00:00'))?.toISOString()).toBe('2026-05-11T09:00:00.000Z');
    expect(windowEdgeAt({ ...waiting, windows: null }, monday('21:00:00'))?.toISOString()).toBe(
      '2026-05-11T21:00:00.000Z',
    );
    for (const reason of ['ops', 'ramp_bake', 'gate:errors']) {
      expect(windowEdgeAt({ ...waiting, status_reason: reason }, monday('09:00:00'))).toBeNull();
    }
    expect(windowEdgeAt({ ...waiting, state: 'halted' }, monday('09:00:00'))).toBeNull();
  });
});
