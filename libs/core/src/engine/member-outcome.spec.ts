import { answeredNotFound } from '@app/domain';
import { AccessRead, BatchItemResult, OkOutcome, Outcome, PatchAccessResult } from '@app/mailstore';
import { BatchMember } from './batch.types';
import {
  forwardOutcome,
  forwardSettlement,
  ownEarlierPatch,
  creditedPatchVersion,
  othersPatch,
  ownEarlierWrites,
  patchAnswer,
  refusalOfItsAccount,
  rollbackOutcome,
  rollbackSettlement,
} from './member-outcome';

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

const member = (seq: number): BatchMember => ({
  seq,
  accountId: 100 + seq,
  login: `user${seq}@example.test`,
  priorImap: false,
  priorPop3: true,
  version: 3,
});

describe("a batch's answer as its settle writes it", () => {
  const members = [member(1), member(2), member(3), member(4)];
  const results: BatchItemResult[] = [
    {
      account: 'user1@example.test',
      status: 'applied',
      previous: { imap: false, pop3: false },
      protocols: { imap: true, pop3: false },
      version: 4,
    },
    { account: 'user2@example.test', status: 'unchanged', protocols: { imap: true } },
    { account: 'user3@example.test', status: 'not_found' },
    { account: 'user4@example.test', status: 'applied', version: 9 },
  ];

  it("forward: outcomes, the prior state (the answer's previous, else the permit's read), the state the answer tells", () => {
    const s = forwardSettlement(members, results);
    expect(s.items.map((i) => [i.member.seq, i.outcome, i.reason])).toEqual([
      [1, { state: 'enabled' }, null],
      [2, { state: 'skipped', reason: 'already_enabled' }, 'already_enabled'],
      [3, { state: 'failed', reason: 'account_not_found' }, 'account_not_found'],
      [4, { state: 'enabled' }, null],
    ]);
    expect(s.items.map((i) => [i.priorImap, i.priorPop3])).toEqual([
      [false, false],
      [false, true],
      [false, true],
      [false, true],
    ]);
    // Known only from an applied or unchanged answer that carries the protocols.
    expect(s.items.map((i) => [i.known, i.imap, i.pop3, i.version])).toEqual([
      [true, true, false, 4],
      [true, true, null, null],
      [false, null, null, null],
      [false, null, null, 9],
    ]);
    expect(s.summary).toEqual({ applied: 2, unchanged: 1, not_found: 1 });
    expect(s.enabled).toBe(2);
    expect(s.delta).toEqual({
      in_flight: -4,
      enabled: 2,
      skipped: 1,
      'skipped:already_enabled': 1,
      failed: 1,
      'failed:account_not_found': 1,
    });
  });

  it('rollback: restoration outcomes, reasons only for failures, and no enabled members to count', () => {
    const s = rollbackSettlement(members, [
      ...results.slice(0, 3),
      { account: 'user4@example.test', status: 'conflict' },
    ]);
    expect(s.items.map((i) => [i.outcome, i.reason])).toEqual([
      [{ state: 'rolled_back' }, null],
      [{ state: 'unchanged' }, null],
      [{ state: 'failed', reason: 'account_not_found' }, 'account_not_found'],
      [{ state: 'conflict' }, null],
    ]);
    expect(s.enabled).toBe(0);
    expect(s.summary).toEqual({ applied: 1, unchanged: 1, not_found: 1, conflict: 1 });
    expect(s.delta).toEqual({
      'rollback:in_flight': -4,
      'rollback:rolled_back': 1,
      'rollback:unchanged': 1,
      'rollback:failed': 1,
      'rollback:failed:account_not_found': 1,
      'rollback:conflict': 1,
    });
  });

  it("a conflict's answer tells the account's current state: the settle records it (issue 18)", () => {
    const s = rollbackSettlement(members.slice(0, 1), [
      {
        account: 'user1@example.test',
        status: 'conflict',
        protocols: { imap: false, pop3: true },
        version: 7,
        error: { code: 'version_mismatch' },
      },
    ]);
    expect(s.items.map((i) => [i.outcome, i.known, i.imap, i.pop3, i.version])).toEqual([
      [{ state: 'conflict' }, true, false, true, 7],
    ]);
  });

  it('an empty answer settles nothing', () => {
    expect(forwardSettlement([], [])).toEqual({ items: [], delta: {}, summary: {}, enabled: 0 });
  });

  it('a refusal of a whole batch answers for its members only when it names its one account', () => {
    const one = members.slice(0, 1);
    const two = members.slice(0, 2);
    expect(refusalOfItsAccount(one, { status: 404, code: 'account_not_found' })).toEqual([
      { account: 'user1@example.test', status: 'not_found' },
    ]);
    const invalid = refusalOfItsAccount(one, { status: 400, code: 'invalid_account' });
    expect(invalid).toEqual([
      { account: 'user1@example.test', status: 'invalid', error: { code: 'http_400_invalid_account' } },
    ]);
    expect(forwardSettlement(one, invalid!).items.map((i) => i.reason)).toEqual(['http_400_invalid_account']);
    expect(forwardSettlement(one, refusalOfItsAccount(one, { status: 404, code: 'account_not_found' })!).delta).toEqual(
      forwardSettlement(one, [{ account: 'user1@example.test', status: 'not_found' }]).delta,
    );
    // About the call, not the accounts: a gateway's route, our request, a reused key, a batch of one "too large".
    for (const refusal of [
      { status: 404, code: 'not_found' },
      { status: 400, code: 'invalid_request' },
      { status: 400, code: 'invalid_json' },
      { status: 405, code: 'method_not_allowed' },
      { status: 413, code: 'batch_too_large' },
      { status: 422, code: 'idempotency_key_reused' },
    ]) {
      expect(refusalOfItsAccount(one, refusal)).toBeNull();
    }
    // Naming an account, but which one of two?
    expect(refusalOfItsAccount(two, { status: 404, code: 'account_not_found' })).toBeNull();
    expect(refusalOfItsAccount(two, { status: 400, code: 'invalid_account' })).toBeNull();
    expect(refusalOfItsAccount([], { status: 404, code: 'account_not_found' })).toBeNull();
  });
});

describe('the answer to a batch resent in doubt (ownEarlierWrites)', () => {
  const at = '2026-05-09T06:00:00.000Z';
  const state = (imap: boolean, pop3: boolean) => ({ imap, pop3 });
  const answer = (status: BatchItemResult['status'], now?: { imap: boolean; pop3: boolean }): BatchItemResult => ({
    account: 'user1@example.test',
    status,
    ...(now ? { protocols: now, version: 7, updatedAt: at, previous: now } : {}),
  });

  it('an item already as asked is ours: applied, with no previous (the permit read is the prior state)', () => {
    const forward = { account: 'user1@example.test', protocols: { imap: true, pop3: true } };
    expect(ownEarlierWrites([forward], [answer('unchanged', state(true, true))])).toEqual([
      { account: 'user1@example.test', status: 'applied', protocols: state(true, true), version: 7, updatedAt: at },
    ]);
    const rollback = { account: 'user1@example.test', protocols: { imap: false, pop3: false }, ifVersion: 6 };
    expect(ownEarlierWrites([rollback], [answer('conflict', state(false, false))])[0]).toMatchObject({
      status: 'applied',
      version: 7,
    });
    // Only the protocols the item names count.
    const imapOnly = { account: 'user1@example.test', protocols: { imap: true } };
    expect(ownEarlierWrites([imapOnly], [answer('unchanged', state(true, false))])[0].status).toBe('applied');
  });

  it('anything else is left as answered', () => {
    const forward = { account: 'user1@example.test', protocols: { imap: true, pop3: true } };
    // Not as asked: somebody else's state (a conflict keeps their change) or a partial one.
    expect(ownEarlierWrites([forward], [answer('conflict', state(true, false))])[0].status).toBe('conflict');
    expect(ownEarlierWrites([forward], [answer('unchanged', state(false, true))])[0].status).toBe('unchanged');
    // No state told, or a status that is not about the state.
    expect(ownEarlierWrites([forward], [answer('unchanged')])[0].status).toBe('unchanged');
    for (const status of ['applied', 'not_found', 'invalid'] as const) {
      expect(ownEarlierWrites([forward], [answer(status, state(true, true))])[0]).toEqual(
        answer(status, state(true, true)),
      );
    }
  });
});

describe('the answer to one PATCH resent in doubt (ownEarlierPatch)', () => {
  const at = '2026-05-09T06:00:00.000Z';
  const closed = { imap: false, pop3: true };
  const mismatch: Outcome<PatchAccessResult> = {
    kind: 'permanent',
    status: 412,
    code: 'version_mismatch',
    currentVersion: 8,
    latencyMs: 4,
  };
  const read = (protocols: { imap: boolean; pop3: boolean }): Outcome<AccessRead> => ({
    kind: 'ok',
    status: 200,
    latencyMs: 2,
    replayed: false,
    value: { account: 'user1@example.test', protocols, version: 8, etag: 8, updatedAt: at },
  });

  it('a 412 whose account reads back as asked is our own earlier write: made, with the state read', () => {
    expect(ownEarlierPatch({ imap: false }, mismatch, read(closed))).toEqual({
      kind: 'ok',
      status: 200,
      latencyMs: 4,
      replayed: false,
      value: { account: 'user1@example.test', protocols: closed, version: 8, updatedAt: at, changed: true },
    });
  });

  it('unchanged with the state as asked is made; a change that was made stays as answered', () => {
    expect(ownEarlierPatch({ imap: false }, patched(false))).toEqual({
      ...patched(false),
      value: { ...(patched(false) as { value: PatchAccessResult }).value, changed: true },
    });
    expect(ownEarlierPatch({ imap: false }, patched(true))).toEqual(patched(true));
  });

  it('anything else is left as answered', () => {
    // Somebody else's state: the 412 stands (their change is kept), unchanged stays unchanged.
    expect(ownEarlierPatch({ imap: false }, mismatch, read({ imap: true, pop3: true }))).toBe(mismatch);
    expect(ownEarlierPatch({ imap: true }, patched(false))).toEqual(patched(false));
    // A 412 with no read, or a read that failed; a failure that is not about the version.
    expect(ownEarlierPatch({ imap: false }, mismatch)).toBe(mismatch);
    const unreachable: Outcome<AccessRead> = { kind: 'unavailable', status: 503, retryAfterMs: 1000, latencyMs: 1 };
    expect(ownEarlierPatch({ imap: false }, mismatch, unreachable)).toBe(mismatch);
    const notFound: Outcome<PatchAccessResult> = { ...mismatch, status: 404, code: 'account_not_found' };
    expect(ownEarlierPatch({ imap: false }, notFound, read(closed))).toBe(notFound);
  });

  it("credits a version only where it turned an answer into our write; as another writer's, it is unchanged", () => {
    const credited = ownEarlierPatch({ imap: false }, mismatch, read(closed));
    expect(creditedPatchVersion(mismatch, credited)).toBe(8);
    const unchanged = ownEarlierPatch({ imap: false }, patched(false));
    expect(creditedPatchVersion(patched(false), unchanged)).toBe(
      (unchanged as { value: PatchAccessResult }).value.version,
    );
    // Made by this very answer, or not turned: nothing credited.
    expect(creditedPatchVersion(patched(true), ownEarlierPatch({ imap: false }, patched(true)))).toBeNull();
    expect(creditedPatchVersion(patched(false), ownEarlierPatch({ imap: true }, patched(false)))).toBeNull();
    expect(creditedPatchVersion(mismatch, mismatch)).toBeNull();
    // Another writer's: as asked, changed nothing, with the state read.
    expect(othersPatch(credited as OkOutcome<PatchAccessResult>)).toEqual({
      kind: 'ok',
      status: 200,
      latencyMs: 4,
      replayed: false,
      value: { account: 'user1@example.test', protocols: closed, version: 8, updatedAt: at, changed: false },
    });
  });
});
