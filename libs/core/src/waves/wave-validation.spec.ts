import { invalidFields } from '@app/testing';
import { validateWaveInput } from './wave-validation';
import { WAVE_LIMITS } from './wave.types';

const base = { name: 'w', selector: { type: 'remaining' as const }, protocols: ['imap' as const], ratePerSecond: 10 };

describe('validateWaveInput: rates and sizes within bounds', () => {
  // Issue 15: 1e-300/s was accepted and stalled the wave's pace for an hour.
  it.each([1e-300, 0, -1, 0.09, WAVE_LIMITS.maxRate * 1.01, Number.NaN, Number.POSITIVE_INFINITY])(
    'refuses ratePerSecond %p on create and update, and rollbackRatePerSecond too, naming the field',
    (rate) => {
      expect(invalidFields(() => validateWaveInput({ ...base, ratePerSecond: rate }, true))).toEqual(['ratePerSecond']);
      expect(invalidFields(() => validateWaveInput({ ratePerSecond: rate }, false))).toEqual(['ratePerSecond']);
      expect(invalidFields(() => validateWaveInput({ rollbackRatePerSecond: rate }, false))).toEqual([
        'rollbackRatePerSecond',
      ]);
    },
  );

  it.each([WAVE_LIMITS.minRate, 0.5, 20, WAVE_LIMITS.maxRate])('accepts ratePerSecond %p', (rate) => {
    expect(
      invalidFields(() => validateWaveInput({ ...base, ratePerSecond: rate, rollbackRatePerSecond: rate }, true)),
    ).toEqual([]);
  });

  it.each([
    ['batchSize', 0],
    ['batchSize', WAVE_LIMITS.maxBatchSize + 1],
    ['batchSize', 1.5],
    ['concurrency', 0],
    ['concurrency', WAVE_LIMITS.maxConcurrency + 1],
  ] as const)('refuses %s %p', (field, value) => {
    expect(invalidFields(() => validateWaveInput({ [field]: value }, false))).toEqual([field]);
  });
});
