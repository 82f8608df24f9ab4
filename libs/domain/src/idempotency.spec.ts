import fc from 'fast-check';
import {
  batchKey,
  isValidIdempotencyKey,
  MAX_KEY_LENGTH,
  operationKey,
  parseBatchKey,
  parseOperationKey,
} from './idempotency';

const WAVE = '3f2b8c1e-9a4d-4e6f-8b7a-1c2d3e4f5a6b';
const OP = '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';

describe('batchKey', () => {
  it.each([
    ['forward', 17, 1, `wave-${WAVE}/forward/batch-17`],
    ['rollback', 1, 1, `wave-${WAVE}/rollback/batch-1`],
    ['forward', 17, 2, `wave-${WAVE}/forward/batch-17/group-2`],
    ['forward', 2_000_000_000, 12, `wave-${WAVE}/forward/batch-2000000000/group-12`],
  ] as const)('%s batch %i group %i -> %s', (kind, batchNo, group, key) => {
    expect(batchKey(WAVE, kind, batchNo, group)).toBe(key);
    expect(isValidIdempotencyKey(key)).toBe(true);
    expect(parseBatchKey(key)).toEqual({ waveId: WAVE, kind, batchNo, group });
  });

  it('separates the forward and rollback calls of the same batch number', () => {
    expect(batchKey(WAVE, 'forward', 3)).not.toBe(batchKey(WAVE, 'rollback', 3));
  });

  it.each([
    ['not a uuid', 'wave-3', 'forward', 1, 1],
    ['upper-case uuid', WAVE.toUpperCase(), 'forward', 1, 1],
    ['unknown kind', WAVE, 'sideways', 1, 1],
    ['batch 0', WAVE, 'forward', 0, 1],
    ['fractional batch', WAVE, 'forward', 1.5, 1],
    ['group 0', WAVE, 'forward', 1, 0],
    ['unsafe batch', WAVE, 'forward', 2 ** 53, 1],
  ])('refuses %s', (_case, waveId, kind, batchNo, group) => {
    expect(() => batchKey(waveId, kind as 'forward', batchNo, group)).toThrow(RangeError);
  });
});

describe('operationKey', () => {
  it('builds and parses', () => {
    expect(operationKey(OP)).toBe(`operation-${OP}`);
    expect(parseOperationKey(operationKey(OP))).toBe(OP);
  });

  it.each(['', '42', 'op-1', OP.toUpperCase()])('refuses %p', (id) => {
    expect(() => operationKey(id)).toThrow(RangeError);
  });

  it.each([`operation-${OP}/x`, `wave-${OP}/forward/batch-1`, 'operation-', `operation-${OP.replace(/-/g, 'x')}`])(
    'does not parse %p',
    (key) => {
      expect(parseOperationKey(key)).toBeNull();
    },
  );
});

describe('parseBatchKey', () => {
  it.each([
    `wave-${WAVE}/forward/batch-0`,
    `wave-${WAVE}/forward/batch-01`,
    `wave-${WAVE}/forward/batch-1/group-1`,
    `wave-${WAVE}/forward/batch-1/group-01`,
    `wave-${WAVE}/backward/batch-1`,
    `wave-${WAVE}/forward/batch-1/`,
    `wave-${'-'.repeat(36)}/forward/batch-1`,
    `wave-${WAVE}/forward/batch-99999999999999999999`,
    `operation-${OP}`,
  ])('rejects %p', (key) => {
    expect(parseBatchKey(key)).toBeNull();
  });
});

describe('isValidIdempotencyKey', () => {
  it.each([
    ['wave-3/batch-17/attempt-group-1', true],
    ['a', true],
    ['x'.repeat(MAX_KEY_LENGTH), true],
    ['x'.repeat(MAX_KEY_LENGTH + 1), false],
    ['', false],
    ['12345', false],
    ['wave:3', false],
    ['wave 3', false],
    ['wavé-3', false],
    [42, false],
    [null, false],
  ])('%p -> %p', (key, expected) => {
    expect(isValidIdempotencyKey(key)).toBe(expected);
  });

  it('property: every batch key is valid, short enough and parses back', () => {
    fc.assert(
      fc.property(
        fc.uuid(),
        fc.constantFrom('forward' as const, 'rollback' as const),
        fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
        fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
        (uuid, kind, batchNo, group) => {
          const waveId = uuid.toLowerCase();
          const key = batchKey(waveId, kind, batchNo, group);
          return (
            isValidIdempotencyKey(key) &&
            !key.includes(':') &&
            JSON.stringify(parseBatchKey(key)) === JSON.stringify({ waveId, kind, batchNo, group })
          );
        },
      ),
    );
  });
});
