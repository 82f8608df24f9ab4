import { outcomeFromResponse, type ErrorResponse, type FailureOutcome } from './outcome';
import { parseProblem } from './response-guards';

const NOW = Date.parse('2026-05-09T06:00:00.000Z');

function map(status: number, body: unknown, extra: Partial<ErrorResponse> = {}): FailureOutcome {
  return outcomeFromResponse({
    status,
    retryAfter: undefined,
    problem: parseProblem(body),
    isWrite: true,
    latencyMs: 7,
    nowMs: NOW,
    ...extra,
  });
}

describe('outcomeFromResponse: contract section 6', () => {
  it.each([
    'invalid_request',
    'invalid_json',
    'invalid_account',
    'invalid_protocols',
    'unsupported_protocol',
    'invalid_if_match',
    'invalid_idempotency_key',
  ])('400 %s is permanent with that code (fix the request, never retry)', (code) => {
    expect(map(400, { code, detail: 'bad' })).toEqual({
      kind: 'permanent',
      status: 400,
      code,
      detail: 'bad',
      latencyMs: 7,
    });
  });

  it.each([
    [401, 'unauthorized'],
    [403, 'forbidden'],
    [404, 'account_not_found'],
    [405, 'method_not_allowed'],
    [422, 'idempotency_key_reused'],
  ])('%i %s is permanent', (status, code) => {
    expect(map(status, { code })).toEqual({ kind: 'permanent', status, code, latencyMs: 7 });
  });

  it('412 version_mismatch carries currentVersion', () => {
    expect(map(412, { code: 'version_mismatch', currentVersion: 9 })).toEqual({
      kind: 'permanent',
      status: 412,
      code: 'version_mismatch',
      currentVersion: 9,
      latencyMs: 7,
    });
  });

  it('413 batch_too_large carries maxItems', () => {
    expect(map(413, { code: 'batch_too_large', maxItems: 500 })).toMatchObject({
      kind: 'permanent',
      code: 'batch_too_large',
      maxItems: 500,
    });
  });

  it('409 idempotency_in_progress waits for Retry-After', () => {
    expect(map(409, { code: 'idempotency_in_progress' }, { retryAfter: '3' })).toEqual({
      kind: 'in_progress',
      status: 409,
      retryAfterMs: 3_000,
      latencyMs: 7,
    });
  });

  it('409 with another code is permanent', () => {
    expect(map(409, { code: 'something_else' })).toMatchObject({
      kind: 'permanent',
      status: 409,
      code: 'something_else',
    });
  });

  it('429 rate_limited: Retry-After header wins over the body, limit is kept', () => {
    const body = { code: 'rate_limited', retryAfterSeconds: 9, limit: 'account-updates' };
    expect(map(429, body, { retryAfter: '2' })).toEqual({
      kind: 'rate_limited',
      status: 429,
      retryAfterMs: 2_000,
      limit: 'account-updates',
      latencyMs: 7,
    });
  });

  it('429 without the header falls back to retryAfterSeconds, then to 1 s', () => {
    expect(map(429, { code: 'rate_limited', retryAfterSeconds: 4 })).toMatchObject({ retryAfterMs: 4_000 });
    expect(map(429, undefined)).toMatchObject({ kind: 'rate_limited', retryAfterMs: 1_000, limit: undefined });
  });

  it('503 unavailable waits for Retry-After (HTTP-date accepted)', () => {
    const retryAfter = new Date(NOW + 5_000).toUTCString();
    expect(map(503, { code: 'unavailable' }, { retryAfter })).toEqual({
      kind: 'unavailable',
      status: 503,
      retryAfterMs: 5_000,
      latencyMs: 7,
    });
  });

  it('500 internal is retryable and, for a write, the outcome is unknown', () => {
    expect(map(500, { code: 'internal' })).toEqual({
      kind: 'retryable',
      status: 500,
      code: 'internal',
      outcomeUnknown: true,
      latencyMs: 7,
    });
    expect(map(500, { code: 'internal' }, { isWrite: false })).toMatchObject({ outcomeUnknown: false });
  });

  it('502 upstream_error is retryable; nothing applied per the contract', () => {
    expect(map(502, { code: 'upstream_error' })).toMatchObject({
      kind: 'retryable',
      status: 502,
      code: 'upstream_error',
      outcomeUnknown: false,
    });
  });

  it('504 upstream_timeout is retryable and treated as unknown for writes', () => {
    expect(map(504, {})).toMatchObject({
      kind: 'retryable',
      status: 504,
      code: 'upstream_timeout',
      outcomeUnknown: true,
    });
  });

  it.each([
    [400, 'invalid_request'],
    [401, 'unauthorized'],
    [403, 'forbidden'],
    [404, 'not_found'],
    [405, 'method_not_allowed'],
    [412, 'version_mismatch'],
    [413, 'batch_too_large'],
    [418, 'http_418'],
    [501, 'http_501'],
    [302, 'unexpected_status'],
  ])('%i without a problem body gets the default code %s', (status, code) => {
    expect(map(status, 'not json at all')).toMatchObject({ kind: 'permanent', status, code });
  });

  it('ignores hostile problem fields (non-code strings, negative versions, huge details)', () => {
    const out = map(412, { code: 'x y <script>', currentVersion: -1, detail: 'd'.repeat(5_000) });
    expect(out).toMatchObject({ kind: 'permanent', code: 'version_mismatch' });
    expect(out).not.toHaveProperty('currentVersion');
    expect((out as { detail: string }).detail).toHaveLength(1_000);
  });
});
