import { BatchKind } from '@app/domain';
import { WaveCommandsService } from '../waves/wave-commands.service';
import { WaveRuntime } from './batch.types';
import { RollbackBatchRepository } from './rollback-batch.repository';
import { Sql } from '../db/sql';
import { DrainState, WaveRuntimeRepository } from './wave-runtime.repository';
import { WaveVerifier } from './wave-verifier';

/** What a rollback pump that found nothing to claim does, from the wave's counters. */
export type RollbackDrain = 'wait' | 'complete' | 'look_again';

/**
 * Batches still in flight (either lane): wait, their pumps settle and come here in turn. None pending: the rollback
 * is complete. Pending but nobody on them: forward batches in flight when the rollback began settled since, below
 * every pump's floor: look again from the first member.
 */
export function rollbackDrain(counters: Readonly<Record<string, number>>): RollbackDrain {
  if ((counters['rollback:in_flight'] ?? 0) > 0 || (counters.in_flight ?? 0) > 0) return 'wait';
  return (counters['rollback:pending'] ?? 0) === 0 ? 'complete' : 'look_again';
}

/** What a forward pump that found nothing to claim does, from the wave's drain state. */
export type ForwardDrain = 'wait' | 'complete' | { stepPause: number; bakeSeconds: number };

/**
 * In flight, or pending within the step (another pump claims them): wait, the last batches settle in other pumps,
 * which finish the step or the wave. Nothing pending: complete. Pending members only beyond the step's limit: the
 * step is done, bake before the next one.
 */
export function forwardDrain(w: DrainState | null): ForwardDrain {
  if (!w || w.inFlight > 0 || w.pendingInStep) return 'wait';
  if (!w.pendingAny) return 'complete';
  return { stepPause: w.currentStep, bakeSeconds: w.steps[w.currentStep]?.bakeSeconds ?? 0 };
}

/**
 * A pump found nothing left to claim: finish the wave (or its rollback), pause it at a ramp step boundary, or
 * leave it to the pumps whose last batches are still in flight.
 */
export async function onPumpDrained(
  sql: Sql,
  c: {
    commands: WaveCommandsService;
    verifier: WaveVerifier;
    repos: { runtime: WaveRuntimeRepository; rollback: RollbackBatchRepository };
  },
  wave: WaveRuntime,
  kind: BatchKind,
): Promise<void> {
  if (kind === 'rollback') {
    const action = rollbackDrain(await c.repos.runtime.counters(sql, wave.id));
    if (action === 'complete') await c.commands.completeRollback(wave.id);
    // Fresh pumps start from the first member (only if one is there to claim, so pumps cannot hand the wave to each
    // other forever should the counters ever disagree with the members).
    if (action === 'look_again' && (await c.repos.rollback.anyLeft(sql, wave.id))) {
      await c.commands.addPumps(wave.id, 'rollback', wave.generation, wave.concurrency);
    }
    return;
  }
  const action = forwardDrain(await c.repos.runtime.drainState(sql, wave.id));
  if (action === 'wait') return;
  if (action === 'complete') {
    // Eventual propagation: the verifier completes the wave after its read-back.
    if (await c.verifier.readyToComplete(wave.id)) await c.commands.complete(wave.id);
    return;
  }
  await c.commands.stepPause(wave.id, action.stepPause, action.bakeSeconds);
}
