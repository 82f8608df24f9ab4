import { BatchResult, Outcome } from '@app/mailstore';
import { callHttpStatus, callOutcomeLabel, callRecord } from './call-record';

const at = new Date('2026-05-09T06:00:00.000Z');

describe('the call log row of a mailstore call', () => {
  it.each<[Outcome<unknown>, string, number | null]>([
    [{ kind: 'ok', status: 200, value: null, latencyMs: 1, replayed: false }, 'ok', 200],
    [{ kind: 'rate_limited', status: 429, retryAfterMs: 1000, latencyMs: 1 }, 'rate_limited', 429],
    [{ kind: 'unavailable', status: 503, retryAfterMs: 1000, latencyMs: 1 }, 'unavailable', 503],
    [{ kind: 'in_progress', status: 409, retryAfterMs: 1000, latencyMs: 1 }, 'in_progress', 409],
    [{ kind: 'retryable', code: 'timeout', outcomeUnknown: true, latencyMs: 1 }, 'retryable:timeout', null],
    [
      { kind: 'retryable', status: 500, code: 'internal', outcomeUnknown: true, latencyMs: 1 },
      'retryable:internal',
      500,
    ],
    [{ kind: 'permanent', status: 400, code: 'invalid_request', latencyMs: 1 }, 'permanent:invalid_request', 400],
  ])('%j is logged as %s with status %s', (outcome, label, status) => {
    expect(callOutcomeLabel(outcome)).toBe(label);
    expect(callHttpStatus(outcome)).toBe(status);
  });

  it("counts an answered batch's failed items, and none for a failed call", () => {
    const ok: Outcome<BatchResult> = {
      kind: 'ok',
      status: 200,
      latencyMs: 12.6,
      replayed: false,
      value: { summary: { applied: 3, unchanged: 0, failed: 2 }, results: [] },
    };
    expect(callRecord(at, ok)).toEqual({
      startedAt: at,
      latencyMs: 12.6,
      httpStatus: 200,
      outcome: 'ok',
      itemErrors: 2,
    });
    expect(callRecord(at, { kind: 'unavailable', status: 503, retryAfterMs: 5, latencyMs: 1 }).itemErrors).toBe(0);
  });
});
