import fc from 'fast-check';
import { batchKey, operationKey, parseOperationKey } from './idempotency';

const WAVE = '3f2b8c1e-9a4d-4e6f-8b7a-1c2d3e4f5a6b';
const OP = '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';

/** What the contract and BullMQ job ids accept: 1–255 chars of [A-Za-z0-9/_.-], not all digits. */
const isValidKey = (key: string): boolean => /^[A-Za-z0-9/_.-]{1,255}$/.test(key) && !/^[0-9]+$/.test(key);

describe('batchKey', () => {
  it.each([
    ['forward', 17, 1, `wave-${WAVE}/forward/batch-17`],
    ['rollback', 1, 1, `wave-${WAVE}/rollback/batch-1`],
    ['forward', 17, 2, `wave-${WAVE}/forward/batch-17/group-2`],
    ['forward', 2_000_000_000, 12, `wave-${WAVE}/forward/batch-2000000000/group-12`],
  ] as const)('%s batch %i group %i -> %s', (kind, batchNo, group, key) => {
    expect(batchKey(WAVE, kind, batchNo, group)).toBe(key);
    expect(isValidKey(key)).toBe(true);
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

describe('batchKey property', () => {
  it('every batch key is valid, free of ":" and names its wave, kind, batch and group', () => {
    fc.assert(
      fc.property(
        fc.uuid(),
        fc.constantFrom('forward' as const, 'rollback' as const),
        fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
        fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
        (uuid, kind, batchNo, group) => {
          const waveId = uuid.toLowerCase();
          const key = batchKey(waveId, kind, batchNo, group);
          const expected = `wave-${waveId}/${kind}/batch-${batchNo}` + (group === 1 ? '' : `/group-${group}`);
          return isValidKey(key) && !key.includes(':') && key === expected;
        },
      ),
    );
  });
});
