import { BatchKind } from '@app/domain';
import { Outcome } from '@app/mailstore';
import type { CallRecord } from './call-record';

/**
 * How a pump finished with a batch: `applied` (the mailstore's answer written), `refused` (a batch of one refused
 * with its account's code: that member failed), `nothing_to_send` (every member skipped at its permit), `released`
 * (the wave stopped before it was sent), `stopped` (the wave stopped after an attempt: kept, to be resent under its
 * key), `paused` (the mailstore unreachable, or refusing our token or the whole call, paused the wave; kept too),
 * `lost` (another worker took it over).
 */
export type BatchEnd = 'applied' | 'refused' | 'nothing_to_send' | 'released' | 'stopped' | 'paused' | 'lost';

/**
 * What the engine reports as it runs, for the worker's /metrics (libs/worker's WorkerMetrics counts it). Every method is
 * cheap and never throws: the engine calls them on its hot path.
 */
export interface EngineMetrics {
  /** A batch call answered (or failed to: retryable), by its outcome's kind. */
  batchSent(kind: BatchKind, outcome: Outcome<unknown>['kind']): void;
  batchEnded(kind: BatchKind, end: BatchEnd): void;
  /** The mailstore asked everyone to wait (429, 503, 409 in progress) this long before the next call. */
  retryAfter(source: 'wave' | 'operation', ms: number): void;
  /** Notification delivery attempts (issue 20), by how they ended. */
  notificationsAttempted(outcome: DeliveryAttemptOutcome, n: number): void;
  /**
   * A mailstore call this process made, as it logs it in `mailstore_calls` (one per batch answer, one per support
   * operation): its outcome label, latency, and the accounts it carried (`items`; `call.itemErrors` refused one by one).
   */
  mailstoreCall(source: 'wave' | 'operation', call: CallRecord, items: number): void;
  /** A pump took a batch on (+1) or is done with it (-1), however it ended: the batches in flight. */
  batchInFlight(kind: BatchKind, delta: 1 | -1): void;
}

/** How one notification delivery attempt ended: acknowledged (2xx), another status, 429, no answer, lease lost. */
/** `gave_up`: deliveries that ended `failed` past their bound (counted besides the attempt's own outcome). */
export type DeliveryAttemptOutcome = 'delivered' | 'failed' | 'rate_limited' | 'unreachable' | 'lost' | 'gave_up';

/** For an engine nobody scrapes (tests that build one piece alone). */
export const NO_ENGINE_METRICS: EngineMetrics = {
  batchSent: () => undefined,
  batchEnded: () => undefined,
  retryAfter: () => undefined,
  notificationsAttempted: () => undefined,
  mailstoreCall: () => undefined,
  batchInFlight: () => undefined,
};
