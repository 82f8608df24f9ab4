import { BatchKind, DISPATCH_STATES, sendBatchSize, WaveState } from '@app/domain';
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
 * Accounts per batch of a wave's lane (the domain's sendBatchSize, which the preview uses too), within the
 * mailstore's batch size limit: min(maxBatchItems, accountUpdateBurst), undefined while its capabilities are unknown.
 */
export function batchSizeFor(
  wave: Pick<WaveRuntime, 'batchSize' | 'ratePerSecond' | 'rollbackRatePerSecond'>,
  kind: BatchKind,
  mailstoreLimit: number | undefined,
): number {
  return sendBatchSize(wave.batchSize, laneRate(wave, kind), mailstoreLimit);
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
