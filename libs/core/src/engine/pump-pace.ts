import { BatchKind, DISPATCH_STATES, WaveState } from '@app/domain';
import { WaveRuntime } from './batch.types';
import { ReserveRequest } from './throttle';

/*
 * A pump's arithmetic, pure (pump-pace.spec.ts): how many accounts per batch, what it books in the shared pace, and
 * in which wave states a batch may still be sent.
 */

/** Wave states in which forward batches with an unknown outcome are still finished (never new ones). */
export const RESOLVING_STATES: readonly WaveState[] = ['cancelled', 'rolling_back'];

/** The lane's rate of the wave, accounts/s. */
function laneRate(wave: Pick<WaveRuntime, 'ratePerSecond' | 'rollbackRatePerSecond'>, kind: BatchKind): number {
  return kind === 'forward' ? wave.ratePerSecond : wave.rollbackRatePerSecond;
}

/**
 * Accounts per batch: the wave's batch size, within the mailstore's maxBatchItems (500 when not known yet), and at
 * most a tenth of the rate so one batch arriving late in a second adds at most 10 % to that second (the 110 % window
 * rule).
 */
export function batchSizeFor(
  wave: Pick<WaveRuntime, 'batchSize' | 'ratePerSecond' | 'rollbackRatePerSecond'>,
  kind: BatchKind,
  maxBatchItems: number | undefined,
): number {
  return Math.max(1, Math.min(wave.batchSize, maxBatchItems ?? 500, Math.floor(laneRate(wave, kind) / 10) || 1));
}

/** The pace request for `cost` accounts of a wave's lane; `mailstoreRate` undefined: the mailstore advertises none. */
export function paceRequestFor(
  wave: Pick<WaveRuntime, 'id' | 'ratePerSecond' | 'rollbackRatePerSecond'>,
  kind: BatchKind,
  cost: number,
  mailstoreRate: number | undefined,
): ReserveRequest {
  return { cost, waveRate: laneRate(wave, kind), waveKey: `${wave.id}:${kind}`, mailstoreRate: mailstoreRate ?? 0 };
}

/** The wave states in which a batch may be sent: the wave runs, or it is an attempted forward batch being resolved. */
export function allowedStatesFor(kind: BatchKind, attempts: number): WaveState[] {
  return kind === 'forward' && attempts > 0 ? [DISPATCH_STATES[kind], ...RESOLVING_STATES] : [DISPATCH_STATES[kind]];
}
