import { forwardDrain, rollbackDrain } from './pump-drained';
import { DrainState } from './wave-runtime.repository';

const steps = [
  { percent: 10, bakeSeconds: 60 },
  { percent: 100, bakeSeconds: 0 },
];
const drain = (over: Partial<DrainState>): DrainState => ({
  currentStep: 0,
  steps,
  inFlight: 0,
  pendingInStep: false,
  pendingAny: false,
  ...over,
});

describe('a pump that found nothing left to claim', () => {
  it.each<[string, Record<string, number>, string]>([
    ['rollback batches in flight: their pumps finish', { 'rollback:in_flight': 2, 'rollback:pending': 0 }, 'wait'],
    ['forward stragglers in flight: they count their members', { in_flight: 1, 'rollback:pending': 0 }, 'wait'],
    ['nothing pending: the rollback is complete', { 'rollback:pending': 0, 'rollback:rolled_back': 9 }, 'complete'],
    ['no counter rows yet: complete', {}, 'complete'],
    ['pending and nobody on them: look again from the start', { 'rollback:pending': 3 }, 'look_again'],
  ])('rollback: %s', (_name, counters, action) => {
    expect(rollbackDrain(counters)).toBe(action);
  });

  it.each<[string, DrainState | null, ReturnType<typeof forwardDrain>]>([
    ['the wave is gone', null, 'wait'],
    ['batches in flight', drain({ inFlight: 3, pendingAny: true }), 'wait'],
    [
      'members pending within the step (another pump claims them)',
      drain({ pendingInStep: true, pendingAny: true }),
      'wait',
    ],
    ['nothing pending: complete', drain({}), 'complete'],
    ['pending beyond the step: bake', drain({ pendingAny: true }), { stepPause: 0, bakeSeconds: 60 }],
    [
      'a step past the plan bakes for 0 s',
      drain({ pendingAny: true, currentStep: 5 }),
      { stepPause: 5, bakeSeconds: 0 },
    ],
  ])('forward: %s', (_name, state, action) => {
    expect(forwardDrain(state)).toEqual(action);
  });
});
