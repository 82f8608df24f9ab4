import { answeredNotFound } from '@app/domain';
import { BatchItemResult, Outcome, PatchAccessResult } from '@app/mailstore';
import { forwardOutcome, patchAnswer, rollbackOutcome } from './member-outcome';

const item = (status: BatchItemResult['status'], code?: string): BatchItemResult => ({
  account: 'user1@example.test',
  status,
  ...(code === undefined ? {} : { error: { code } }),
});

const patched = (changed: boolean): Outcome<PatchAccessResult> => ({
  kind: 'ok',
  status: 200,
  latencyMs: 3,
  replayed: false,
  value: { account: 'user1@example.test', protocols: { imap: false }, version: 4, updatedAt: '', changed },
});

describe('member outcomes from the mailstore answer', () => {
  it.each([
    ['applied', undefined, { state: 'enabled' }],
    ['unchanged', undefined, { state: 'skipped', reason: 'already_enabled' }],
    ['not_found', undefined, { state: 'failed', reason: 'account_not_found' }],
    ['conflict', undefined, { state: 'failed', reason: 'conflict' }],
    ['invalid', 'invalid account', { state: 'failed', reason: 'invalid_account' }],
    ['invalid', undefined, { state: 'failed', reason: 'invalid' }],
  ] as const)('forward item %s (%s) → %j', (status, code, outcome) => {
    expect(forwardOutcome(item(status, code))).toEqual(outcome);
  });

  it.each([
    ['applied', undefined, { state: 'rolled_back' }],
    ['unchanged', undefined, { state: 'unchanged' }],
    ['conflict', undefined, { state: 'conflict' }],
    ['not_found', undefined, { state: 'failed', reason: 'account_not_found' }],
    ['invalid', 'http_400_invalid_protocols', { state: 'failed', reason: 'http_400_invalid_protocols' }],
  ] as const)('rollback item %s (%s) → %j', (status, code, outcome) => {
    expect(rollbackOutcome(item(status, code))).toEqual(outcome);
  });

  it('the support lookup recognises what the settle writes for a login the mailstore does not know', () => {
    const outcome = forwardOutcome(item('not_found'));
    expect(answeredNotFound({ state: outcome.state, reason: 'reason' in outcome ? outcome.reason : null })).toBe(true);
  });

  it.each<[string, Outcome<PatchAccessResult>, object]>([
    ['changed', patched(true), { state: 'rolled_back' }],
    ['already so', patched(false), { state: 'unchanged' }],
    [
      '412 version_mismatch',
      { kind: 'permanent', status: 412, code: 'version_mismatch', currentVersion: 5, latencyMs: 2 },
      { state: 'conflict' },
    ],
    [
      '404 account_not_found',
      { kind: 'permanent', status: 404, code: 'account_not_found', latencyMs: 2 },
      { state: 'failed', reason: 'account_not_found' },
    ],
    [
      'a bare 404 (a wrong base URL, not a missing account)',
      { kind: 'permanent', status: 404, code: 'not_found', latencyMs: 2 },
      { state: 'failed', reason: 'not_found' },
    ],
    [
      'rate limited until the retries ran out',
      { kind: 'rate_limited', status: 429, retryAfterMs: 1000, latencyMs: 2 },
      { state: 'failed', reason: 'rate_limited' },
    ],
    [
      'a timeout',
      { kind: 'retryable', code: 'timeout', outcomeUnknown: true, latencyMs: 2 },
      { state: 'failed', reason: 'timeout' },
    ],
  ])('a support rollback PATCH %s ends the member as a rollback batch would', (_name, outcome, member) => {
    expect(rollbackOutcome(patchAnswer(outcome))).toEqual(member);
  });
});
