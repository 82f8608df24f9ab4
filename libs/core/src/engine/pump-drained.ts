import { BatchKind } from '@app/domain';
import { WaveCommandsService } from '../waves/wave-commands.service';
import { WaveRuntime } from './batch.types';
import { rollbackLeft } from './rollback-batch.repository';
import { Sql } from '../db/sql';
import { readCounters, readDrainState } from './wave-runtime.repository';
import { WaveVerifier } from './wave-verifier';

/**
 * A pump found nothing left to claim: finish the wave (or its rollback), pause it at a ramp step boundary, or
 * leave it to the pumps whose last batches are still in flight (they settle and come here in turn).
 */
export async function onPumpDrained(
  sql: Sql,
  commands: WaveCommandsService,
  verifier: WaveVerifier,
  wave: WaveRuntime,
  kind: BatchKind,
): Promise<void> {
  if (kind === 'rollback') {
    const counters = await readCounters(sql, wave.id);
    if ((counters['rollback:in_flight'] ?? 0) > 0 || (counters.in_flight ?? 0) > 0) return;
    if ((counters['rollback:pending'] ?? 0) === 0) {
      await commands.completeRollback(wave.id);
      return;
    }
    // Members left and nobody on them: forward batches in flight when the rollback began settled since, below
    // every pump's floor. Fresh pumps start from the first member (only if one is there to claim, so pumps
    // cannot hand the wave to each other forever should the counters ever disagree with the members).
    if (await rollbackLeft(sql, wave.id)) {
      await commands.addPumps(wave.id, 'rollback', wave.generation, wave.concurrency);
    }
    return;
  }
  const w = await readDrainState(sql, wave.id);
  // In flight: the last batches settle in other pumps, which finish the step or the wave.
  if (!w || w.inFlight > 0 || w.pendingInStep) return;
  if (!w.pendingAny) {
    // Eventual propagation: the verifier completes the wave after its read-back.
    if (await verifier.readyToComplete(wave.id)) await commands.complete(wave.id);
    return;
  }
  // Pending members only beyond the step's limit: the step is done, bake before the next one.
  const step = w.steps[w.currentStep];
  await commands.stepPause(wave.id, w.currentStep, step?.bakeSeconds ?? 0);
}
