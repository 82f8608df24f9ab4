import { DEFAULT_RETRY_AFTER_MS, MAX_RETRY_AFTER_MS, parseRetryAfter, retryAfterMsFrom } from './retry-after';

const NOW = Date.parse('2026-05-09T06:00:00.000Z');

describe('parseRetryAfter', () => {
  it.each([
    ['0', 0],
    ['1', 1_000],
    [' 30 ', 30_000],
    [['2', '7'], 2_000],
  ] as const)('delay-seconds %p → %i ms', (value, ms) => {
    expect(parseRetryAfter(value as string | string[], NOW)).toBe(ms);
  });

  it('accepts an IMF-fixdate, relative to now', () => {
    expect(parseRetryAfter('Sat, 09 May 2026 06:00:07 GMT', NOW)).toBe(7_000);
  });

  it('clamps a date in the past to 0 and huge values to the cap', () => {
    expect(parseRetryAfter('Fri, 08 May 2026 06:00:00 GMT', NOW)).toBe(0);
    expect(parseRetryAfter('999999999', NOW)).toBe(MAX_RETRY_AFTER_MS);
  });

  it.each([undefined, '', '-1', '1.5', '1e3', 'soon', '2026-05-09T06:00:07Z', 'NaN'])('rejects %p', (value) => {
    expect(parseRetryAfter(value, NOW)).toBeUndefined();
  });
});

describe('retryAfterMsFrom', () => {
  it('prefers the header, then the body seconds, then the 1 s default', () => {
    expect(retryAfterMsFrom('3', 9, NOW)).toBe(3_000);
    expect(retryAfterMsFrom('garbage', 9, NOW)).toBe(9_000);
    expect(retryAfterMsFrom(undefined, 'x', NOW)).toBe(DEFAULT_RETRY_AFTER_MS);
    expect(retryAfterMsFrom(undefined, -4, NOW)).toBe(DEFAULT_RETRY_AFTER_MS);
  });
});
