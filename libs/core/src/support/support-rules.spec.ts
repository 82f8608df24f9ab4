import { PROTOCOLS, rollbackClaimDelta, SupportDecision } from '@app/domain';
import { FailureOutcome } from '@app/mailstore';
import { invalidFields } from '@app/testing';
import { ConflictError, ValidationError } from '../errors';
import { checkReasonAndTicket } from './reason-and-ticket';
import {
  decideSupportChange,
  hasOverrideOnFile,
  operationAction,
  operationFailure,
  operationPatch,
  refusal,
  requestedProtocols,
  rollbackTarget,
  supportRollbackDelta,
} from './support-rules';

describe('requestedProtocols', () => {
  it('defaults to both protocols and keeps the ones named', () => {
    expect(requestedProtocols('enable', {})).toEqual(['imap', 'pop3']);
    expect(requestedProtocols('disable', { protocols: ['pop3'] })).toEqual(['pop3']);
  });

  it('refuses an empty, repeated or unknown protocol list, naming the field', () => {
    for (const protocols of [[], ['imap', 'imap'], ['smtp'], 'imap', {}]) {
      expect(invalidFields(() => requestedProtocols('enable', { protocols: protocols as never }))).toEqual([
        'protocols',
      ]);
    }
  });

  it('takes an override only on an enable, and only as a boolean', () => {
    expect(requestedProtocols('enable', { override: true })).toEqual(PROTOCOLS);
    expect(requestedProtocols('enable', { override: false })).toEqual(PROTOCOLS);
    expect(invalidFields(() => requestedProtocols('disable', { override: true }))).toEqual(['override']);
    expect(invalidFields(() => requestedProtocols('disable', { override: false }))).toEqual(['override']);
    expect(invalidFields(() => requestedProtocols('enable', { override: 'yes' as never }))).toEqual(['override']);
  });
});

describe('checkReasonAndTicket', () => {
  it('needs both, non-blank and bounded, and names every field at fault', () => {
    expect(invalidFields(() => checkReasonAndTicket({ reason: 'why', ticket: 'T-1' }))).toEqual([]);
    expect(invalidFields(() => checkReasonAndTicket({ reason: ' ', ticket: '' }))).toEqual(['reason', 'ticket']);
    expect(invalidFields(() => checkReasonAndTicket({ reason: 'x'.repeat(501), ticket: 'T' }))).toEqual(['reason']);
    expect(invalidFields(() => checkReasonAndTicket({ reason: 'x'.repeat(500), ticket: 't'.repeat(101) }))).toEqual([
      'ticket',
    ]);
    expect(invalidFields(() => checkReasonAndTicket({ reason: 3, ticket: null } as never))).toEqual([
      'reason',
      'ticket',
    ]);
  });
});

describe('refusal', () => {
  const refused = (
    code: 'reason_required' | 'ticket_required' | 'override_required',
    field: 'reason' | 'ticket' | 'override',
  ) => ({ allowed: false, code, field, message: `${code}!` }) as Extract<SupportDecision, { allowed: false }>;

  it('answers a missing override with a 409 naming the login and the field', () => {
    const err = refusal(refused('override_required', 'override'), 'a@example.test');
    expect(err).toBeInstanceOf(ConflictError);
    expect(err).toMatchObject({
      code: 'override_required',
      kind: 'conflict',
      extra: { login: 'a@example.test', errors: [{ field: 'override', message: 'override_required!' }] },
    });
  });

  it('answers any other refusal with a 422 on its field', () => {
    for (const [code, field] of [
      ['reason_required', 'reason'],
      ['ticket_required', 'ticket'],
    ] as const) {
      const err = refusal(refused(code, field), 'a@example.test');
      expect(err).toBeInstanceOf(ValidationError);
      expect((err as ValidationError).errors).toEqual([{ field, message: `${code}!` }]);
    }
  });
});

describe('decideSupportChange', () => {
  const account = {
    leaked: false,
    passwordChangedAt: null,
    held: true,
    overrideActive: false,
    imap: false,
    pop3: false,
  };
  const request = { account, protocols: [...PROTOCOLS], reason: 'why', ticket: 'T-1', incidentAt: new Date(0) };

  it("is the domain's decision when allowed; a refusal is thrown as its answer", () => {
    expect(() => decideSupportChange('enable', request, 'a@x.test')).toThrow(ConflictError);
    expect(decideSupportChange('enable', { ...request, override: true }, 'a@x.test')).toMatchObject({
      allowed: true,
      overrides: ['held'],
      desired: { imap: true, pop3: true },
    });
    expect(decideSupportChange('disable', request, 'a@x.test')).toMatchObject({
      allowed: true,
      desired: { imap: false, pop3: false },
    });
    expect(() => decideSupportChange('disable', { ...request, ticket: '' }, 'a@x.test')).toThrow(ValidationError);
  });
});

describe('hasOverrideOnFile', () => {
  it('is true when any override field is recorded, live or expired', () => {
    const none = { overrideExpiresAt: null, overrideReason: null, overrideTicket: null };
    expect(hasOverrideOnFile(none)).toBe(false);
    expect(hasOverrideOnFile({ ...none, overrideExpiresAt: new Date(0) })).toBe(true);
    expect(hasOverrideOnFile({ ...none, overrideReason: 'r' })).toBe(true);
    expect(hasOverrideOnFile({ ...none, overrideTicket: 't' })).toBe(true);
  });
});

describe('rollbackTarget', () => {
  const member = (prior_imap: boolean, prior_pop3: boolean, protocols = [...PROTOCOLS]) => ({
    protocols,
    prior_imap,
    prior_pop3,
  });

  it('closes exactly the protocols the wave turned on', () => {
    expect(rollbackTarget(member(false, false), 'a').opened).toEqual(['imap', 'pop3']);
    expect(rollbackTarget(member(true, false), 'a').opened).toEqual(['pop3']);
    expect(rollbackTarget(member(false, true), 'a').opened).toEqual(['imap']);
    expect(rollbackTarget(member(false, false, ['pop3']), 'a').opened).toEqual(['pop3']);
    const m = member(false, true);
    expect(rollbackTarget(m, 'a').member).toBe(m);
  });

  it('refuses with nothing_to_roll_back when no change is left or the wave changed nothing', () => {
    expect(() => rollbackTarget(undefined, 'a@x.test')).toThrow('no wave change on a@x.test is left to roll back');
    expect(() => rollbackTarget(member(true, true), 'a@x.test')).toThrow(
      "the wave did not change a@x.test's protocols",
    );
    expect(() => rollbackTarget(member(false, true, ['pop3']), 'a')).toThrow(ConflictError);
  });
});

describe('supportRollbackDelta', () => {
  it("takes a member its wave's rollback already counts ahead of the pumps; otherwise counts it once", () => {
    expect(supportRollbackDelta(true)).toEqual(rollbackClaimDelta(1));
    expect(supportRollbackDelta(false)).toEqual({ 'rollback:total': 1, 'rollback:in_flight': 1 });
  });
});

describe('operationPatch', () => {
  const op = {
    id: 'op-id',
    kind: 'enable' as const,
    protocols: ['imap'],
    reason: 'customer asked',
    ticket: 'T-9',
    idempotencyKey: 'key-1',
    ifVersion: 7,
  };

  it('an enable turns the named protocols on and keeps sessions; its key and request id are its own', () => {
    expect(operationPatch(op)).toEqual({
      request: { protocols: { imap: true }, revokeSessions: false, reason: 'support T-9: customer asked' },
      options: { idempotencyKey: 'key-1', requestId: 'op-op-id' },
    });
  });

  it('a disable turns them off and revokes sessions; a long reason is cut to 200 characters', () => {
    const p = operationPatch({ ...op, kind: 'disable', protocols: ['imap', 'pop3'], reason: 'r'.repeat(300) });
    expect(p.request.protocols).toEqual({ imap: false, pop3: false });
    expect(p.request.revokeSessions).toBe(true);
    expect(p.request.reason).toHaveLength(200);
  });

  it('a rollback never clobbers a later change: If-Match on the version our change produced, when known', () => {
    expect(operationPatch({ ...op, kind: 'rollback' }).options.ifMatch).toBe(7);
    expect(operationPatch({ ...op, kind: 'rollback', ifVersion: null }).options).not.toHaveProperty('ifMatch');
    expect(operationPatch(op).options).not.toHaveProperty('ifMatch');
  });
});

describe('operationFailure', () => {
  it('records the code when the outcome has one, else its kind, with the status when there was one', () => {
    const cases: [FailureOutcome, ReturnType<typeof operationFailure>][] = [
      [
        { kind: 'permanent', status: 404, code: 'account_not_found' } as FailureOutcome,
        { outcome: 'account_not_found', error: { kind: 'permanent', code: 'account_not_found', status: 404 } },
      ],
      [
        { kind: 'retryable', code: 'timeout', outcomeUnknown: true } as FailureOutcome,
        { outcome: 'timeout', error: { kind: 'retryable', code: 'timeout' } },
      ],
      [
        { kind: 'rate_limited', status: 429, retryAfterMs: 100 } as FailureOutcome,
        { outcome: 'rate_limited', error: { kind: 'rate_limited', status: 429 } },
      ],
    ];
    for (const [outcome, expected] of cases) expect(operationFailure(outcome)).toEqual(expected);
  });
});

describe('operationAction', () => {
  it('names each step of each kind', () => {
    const table = (['enable', 'disable', 'rollback'] as const).map((kind) =>
      (['requested', 'done', 'failed', 'reasked'] as const).map((step) => operationAction(kind, step)),
    );
    expect(table).toEqual([
      ['support.enable_requested', 'support.enabled', 'support.enable_failed', 'support.enable_reasked'],
      ['support.disable_requested', 'support.disabled', 'support.disable_failed', 'support.disable_reasked'],
      ['support.rollback_requested', 'support.rolled_back', 'support.rollback_failed', 'support.rollback_reasked'],
    ]);
  });
});
