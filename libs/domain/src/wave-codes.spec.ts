import fc from 'fast-check';
import { rollbackSettleDelta, settleDelta } from './counter-delta';
import {
  answeredNotFound,
  BATCH_KINDS,
  DISPATCH_STATES,
  dispatchedKind,
  errorCode,
  isDispatchState,
} from './wave-codes';
import { WAVE_STATES } from './wave-state';

describe('errorCode: a mailstore code as stored and counted', () => {
  it.each([
    ['account_not_found', 'account_not_found'],
    ['http_400_bad request', 'http_400_bad_request'],
    ['Version.Mismatch-2', 'Version.Mismatch-2'],
    ['räumen:jetzt', 'r_umen_jetzt'],
    ['__private', 'private'],
    ['', 'invalid'],
    ['::', 'invalid'],
    ['x'.repeat(80), 'x'.repeat(64)],
  ])('%j becomes %j', (raw, code) => {
    expect(errorCode(raw)).toBe(code);
  });

  it('property: any code names a failure counter, forward and rollback (the settle never throws on it)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (raw) => {
        const reason = errorCode(raw);
        expect(settleDelta([{ state: 'failed', reason }])).toEqual({
          in_flight: -1,
          failed: 1,
          [`failed:${reason}`]: 1,
        });
        expect(rollbackSettleDelta([{ state: 'failed', reason }])[`rollback:failed:${reason}`]).toBe(1);
        expect(errorCode(reason)).toBe(reason);
      }),
    );
  });
});

describe('answeredNotFound', () => {
  it.each([
    [{ state: 'failed', reason: 'account_not_found' }, true],
    [{ state: 'failed', reason: 'conflict' }, false],
    [{ state: 'skipped', reason: 'password_reset_required' }, false],
    [{ state: 'enabled', reason: null }, false],
    [{ state: 'cancelled', reason: 'wave_stopped' }, false],
  ])('%j: %s', (member, expected) => {
    expect(answeredNotFound(member)).toBe(expected);
  });
});

describe('the states in which pumps send calls', () => {
  it('forward pumps send while the wave runs, rollback pumps while it rolls back, and back again', () => {
    expect(DISPATCH_STATES).toEqual({ forward: 'running', rollback: 'rolling_back' });
    for (const kind of BATCH_KINDS) expect(dispatchedKind(DISPATCH_STATES[kind])).toBe(kind);
  });

  it('no other state dispatches', () => {
    expect(WAVE_STATES.filter(isDispatchState)).toEqual(['running', 'rolling_back']);
  });
});
