import fc from 'fast-check';
import type { Protocol } from '@app/domain';

/**
 * The wave model's vocabulary (libs/core/src/engine/wave-model.int-spec.ts): the commands a run may throw at a wave,
 * how often each is drawn, the wave's parameters, and the sequences that once broke an invariant. The spec applies
 * them to real services and worker processes; the oracle (wave-model-oracle.ts) judges the result.
 */

/** Members of each model wave. */
export const MODEL_MEMBERS = 120;
/** The last members of a wave (sent last): support and imports pick them often, so their actions meet the wave's. */
const HOT = 12;

export type ModelLifecycle = 'pause' | 'resume' | 'cancel' | 'rollback';
export type ModelCommand =
  | { kind: ModelLifecycle | 'wake' | 'fast' | 'progress' }
  | { kind: 'wait'; ms: number }
  | { kind: 'support'; member: number; enable: boolean; override: boolean }
  | { kind: 'hold'; member: number; hold: boolean }
  | { kind: 'revoke'; member: number }
  | { kind: 'freeze'; worker: number }
  | { kind: 'importLeaked'; members: number[] }
  | { kind: 'slow'; rate: number };

export interface ModelWaveParams {
  protocols: Protocol[];
  /** Accounts per second at start, and again after `fast`. */
  rate: number;
  batchSize: number;
  /** Pumps: a few, or many (more than one worker process runs at once). */
  concurrency: number;
  /** How long the mailstore takes to answer a batch: with it, a frozen worker is often caught mid-call. */
  callLatencyMs: number;
  /** Begin with `progress`, so that most runs act on a wave already sending (the others act on it at once). */
  warmUp: boolean;
}

const memberIndex = fc.oneof(
  { arbitrary: fc.integer({ min: MODEL_MEMBERS - HOT, max: MODEL_MEMBERS - 1 }), weight: 1 },
  { arbitrary: fc.integer({ min: 0, max: MODEL_MEMBERS - 1 }), weight: 2 },
);
export const modelCommand: fc.Arbitrary<ModelCommand> = fc.oneof(
  {
    arbitrary: fc.constantFrom<ModelCommand>(
      { kind: 'pause' },
      { kind: 'pause' },
      { kind: 'resume' },
      { kind: 'resume' },
      { kind: 'cancel' },
      { kind: 'rollback' },
    ),
    weight: 4,
  },
  // A long wait outlasts a lease (6 s): a frozen worker's batches change hands meanwhile.
  { arbitrary: fc.constantFrom(150, 1000, 7000).map((ms): ModelCommand => ({ kind: 'wait', ms })), weight: 3 },
  // Until the wave has moved a batch or two (or stopped, or 5 s passed): commands then meet batches in flight.
  { arbitrary: fc.constant<ModelCommand>({ kind: 'progress' }), weight: 2 },
  {
    arbitrary: fc.record({
      kind: fc.constant('support' as const),
      member: memberIndex,
      enable: fc.boolean(),
      override: fc.boolean(),
    }),
    weight: 2,
  },
  { arbitrary: fc.record({ kind: fc.constant('hold' as const), member: memberIndex, hold: fc.boolean() }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('revoke' as const), member: memberIndex }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('freeze' as const), worker: fc.integer({ min: 0, max: 1 }) }), weight: 2 },
  { arbitrary: fc.constant<ModelCommand>({ kind: 'wake' }), weight: 1 },
  {
    arbitrary: fc.record({
      kind: fc.constant('importLeaked' as const),
      members: fc.uniqueArray(memberIndex, { minLength: 1, maxLength: 10 }),
    }),
    weight: 1,
  },
  { arbitrary: fc.record({ kind: fc.constant('slow' as const), rate: fc.integer({ min: 1, max: 3 }) }), weight: 1 },
  { arbitrary: fc.constant<ModelCommand>({ kind: 'fast' }), weight: 1 },
);
export const modelWaveParams: fc.Arbitrary<ModelWaveParams> = fc.record({
  protocols: fc.constantFrom<Protocol[]>(['imap', 'pop3'], ['imap'], ['pop3']),
  rate: fc.integer({ min: 20, max: 200 }),
  batchSize: fc.integer({ min: 1, max: 25 }),
  concurrency: fc.oneof(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 16, max: 32 })),
  callLatencyMs: fc.constantFrom(0, 50, 200),
  warmUp: fc.constantFrom(true, true, true, false),
});

/**
 * Sequences that broke an invariant (issue 14's model), replayed before the random ones. Each depends on timing, so
 * a run may pass them by luck; the random runs reach the same states.
 */
export const MODEL_FOUND: [ModelWaveParams, ModelCommand[]][] = [
  // A forward batch left in flight by a frozen worker when the wave is rolled back: the leftover pump fails on
  // every attempt, the wave stays rolling_back with members in flight.
  [
    { protocols: ['imap'], rate: 50, batchSize: 1, concurrency: 21, callLatencyMs: 50, warmUp: true },
    [
      { kind: 'fast' },
      { kind: 'freeze', worker: 1 },
      { kind: 'pause' },
      { kind: 'rollback' },
      { kind: 'pause' },
      { kind: 'wait', ms: 1000 },
    ],
  ],
  // Leaked by an import, enabled by support (override), then disabled by support: the wave opens it.
  [
    { protocols: ['imap', 'pop3'], rate: 30, batchSize: 5, concurrency: 2, callLatencyMs: 0, warmUp: false },
    [
      { kind: 'importLeaked', members: [119] },
      { kind: 'support', member: 119, enable: true, override: true },
      { kind: 'support', member: 119, enable: false, override: false },
      { kind: 'wait', ms: 7000 },
    ],
  ],
  // Support enables, then disables one account: the mailstore may apply them in the other order (left open).
  [
    { protocols: ['imap', 'pop3'], rate: 30, batchSize: 5, concurrency: 2, callLatencyMs: 0, warmUp: false },
    [
      { kind: 'support', member: 119, enable: true, override: false },
      { kind: 'support', member: 119, enable: false, override: false },
      { kind: 'wait', ms: 1000 },
    ],
  ],
  // Support enables a member (override) while the wave is slowed and a worker frozen: the operation run again in
  // doubt found the account as the wave's batch had made it, and credited the wave's write to itself (both recorded
  // the same version).
  [
    { protocols: ['pop3'], rate: 26, batchSize: 22, concurrency: 1, callLatencyMs: 200, warmUp: true },
    [
      { kind: 'support', member: 0, enable: true, override: true },
      { kind: 'slow', rate: 2 },
      { kind: 'freeze', worker: 1 },
      { kind: 'progress' },
    ],
  ],
  // Support closes a member while a worker is frozen: the wave's batch that opened it, taken over and resent under
  // its key after support's close, had its first answer replayed, and the service recorded the account open again.
  [
    { protocols: ['imap', 'pop3'], rate: 21, batchSize: 23, concurrency: 32, callLatencyMs: 200, warmUp: true },
    [
      { kind: 'support', member: 40, enable: false, override: false },
      { kind: 'freeze', worker: 1 },
      { kind: 'progress' },
      { kind: 'fast' },
      { kind: 'support', member: 42, enable: false, override: true },
      { kind: 'cancel' },
    ],
  ],
  // Issue 15: an override given by support, then the account held, released and the override revoked or expired
  // while the wave comes to it.
  [
    { protocols: ['imap', 'pop3'], rate: 20, batchSize: 5, concurrency: 2, callLatencyMs: 0, warmUp: false },
    [
      { kind: 'importLeaked', members: [110, 111, 112, 113] },
      { kind: 'support', member: 110, enable: true, override: true },
      { kind: 'support', member: 111, enable: true, override: true },
      { kind: 'support', member: 112, enable: true, override: true },
      { kind: 'support', member: 113, enable: true, override: false },
      { kind: 'hold', member: 110, hold: true },
      { kind: 'hold', member: 110, hold: false },
      { kind: 'revoke', member: 111 },
      { kind: 'wait', ms: 7000 },
    ],
  ],
];
