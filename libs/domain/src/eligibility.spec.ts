import fc from 'fast-check';
import {
  decideEligibility,
  EligibilityAccount,
  hasActiveOverride,
  passwordResetRequired,
  Protocol,
  supportDisableDecision,
  supportEnableDecision,
} from './eligibility';

const INCIDENT = new Date('2026-05-02T00:00:00Z');
const BEFORE = new Date('2026-05-01T23:59:59Z');
const AFTER = new Date('2026-05-02T00:00:01Z');

/** Builder: a clean, not leaked, fully closed account known to the mailstore. */
const account = (overrides: Partial<EligibilityAccount> = {}): EligibilityAccount => ({
  leaked: false,
  passwordChangedAt: null,
  held: false,
  overrideActive: false,
  imap: false,
  pop3: false,
  ...overrides,
});

const BOTH: Protocol[] = ['imap', 'pop3'];

describe('decideEligibility', () => {
  it.each([
    // [case, account, protocols, expected]
    ['clean closed account, both', {}, BOTH, { eligible: true, desired: { imap: true, pop3: true } }],
    ['clean closed account, imap only', {}, ['imap'], { eligible: true, desired: { imap: true } }],
    ['clean closed account, pop3 only', {}, ['pop3'], { eligible: true, desired: { pop3: true } }],
    ['imap already on, both requested', { imap: true }, BOTH, { eligible: true, desired: { pop3: true } }],
    ['pop3 already on, both requested', { pop3: true }, BOTH, { eligible: true, desired: { imap: true } }],
    ['pop3 on, imap requested', { pop3: true }, ['imap'], { eligible: true, desired: { imap: true } }],
    ['both on, both requested', { imap: true, pop3: true }, BOTH, { eligible: false, reason: 'already_enabled' }],
    ['imap on, imap requested', { imap: true }, ['imap'], { eligible: false, reason: 'already_enabled' }],
    ['held', { held: true }, BOTH, { eligible: false, reason: 'held' }],
    ['held beats leaked', { held: true, leaked: true }, BOTH, { eligible: false, reason: 'held' }],
    ['held beats override', { held: true, overrideActive: true }, BOTH, { eligible: false, reason: 'held' }],
    ['held beats already on', { held: true, imap: true, pop3: true }, BOTH, { eligible: false, reason: 'held' }],
    ['held beats not found', { held: true, knownToMailstore: false }, BOTH, { eligible: false, reason: 'held' }],
    ['leaked, never changed', { leaked: true }, BOTH, { eligible: false, reason: 'password_reset_required' }],
    [
      'leaked, changed before the incident',
      { leaked: true, passwordChangedAt: BEFORE },
      BOTH,
      { eligible: false, reason: 'password_reset_required' },
    ],
    [
      'leaked, changed exactly at the incident',
      { leaked: true, passwordChangedAt: INCIDENT },
      BOTH,
      { eligible: false, reason: 'password_reset_required' },
    ],
    [
      'leaked, changed one second after',
      { leaked: true, passwordChangedAt: AFTER },
      BOTH,
      { eligible: true, desired: { imap: true, pop3: true } },
    ],
    [
      'leaked with a support override',
      { leaked: true, overrideActive: true },
      ['pop3'],
      { eligible: true, desired: { pop3: true } },
    ],
    [
      'leaked beats not found',
      { leaked: true, knownToMailstore: false },
      BOTH,
      { eligible: false, reason: 'password_reset_required' },
    ],
    [
      'leaked beats already on',
      { leaked: true, imap: true, pop3: true },
      BOTH,
      { eligible: false, reason: 'password_reset_required' },
    ],
    [
      'not leaked, old password is fine',
      { passwordChangedAt: BEFORE },
      ['imap'],
      { eligible: true, desired: { imap: true } },
    ],
    ['unknown to the mailstore', { knownToMailstore: false }, BOTH, { eligible: false, reason: 'not_found' }],
    [
      'not found beats already on',
      { knownToMailstore: false, imap: true, pop3: true },
      BOTH,
      { eligible: false, reason: 'not_found' },
    ],
    ['known to the mailstore', { knownToMailstore: true }, ['imap'], { eligible: true, desired: { imap: true } }],
  ] as const)('%s', (_case, overrides, protocols, expected) => {
    expect(decideEligibility(account(overrides), protocols, INCIDENT)).toEqual(expected);
  });

  it.each([[[]], [['imap', 'imap']], [['smtp']]])('refuses a malformed protocol list %p', (protocols) => {
    expect(() => decideEligibility(account(), protocols as Protocol[], INCIDENT)).toThrow(RangeError);
  });

  const arbitraryAccount = fc.record({
    leaked: fc.boolean(),
    passwordChangedAt: fc.option(fc.constantFrom(BEFORE, INCIDENT, AFTER), { nil: null }),
    held: fc.boolean(),
    overrideActive: fc.boolean(),
    imap: fc.boolean(),
    pop3: fc.boolean(),
    knownToMailstore: fc.option(fc.boolean(), { nil: undefined }),
  });
  const arbitraryProtocols = fc.constantFrom<Protocol[]>(['imap'], ['pop3'], ['imap', 'pop3'], ['pop3', 'imap']);

  it('property: a wave never opens a held account nor a leaked one without a reset or an override', () => {
    fc.assert(
      fc.property(arbitraryAccount, arbitraryProtocols, (a, protocols) => {
        const decision = decideEligibility(a, protocols, INCIDENT);
        if (!decision.eligible) return true;
        const resetDone = a.passwordChangedAt !== null && a.passwordChangedAt > INCIDENT;
        return !a.held && (!a.leaked || resetDone || a.overrideActive) && a.knownToMailstore !== false;
      }),
    );
  });

  it('property: desired is exactly the requested protocols that are off, and never empty', () => {
    fc.assert(
      fc.property(arbitraryAccount, arbitraryProtocols, (a, protocols) => {
        const decision = decideEligibility(a, protocols, INCIDENT);
        if (!decision.eligible) return true;
        const expected = protocols.filter((p) => !a[p]).sort();
        return JSON.stringify(Object.keys(decision.desired).sort()) === JSON.stringify(expected) && expected.length > 0;
      }),
    );
  });
});

describe('helpers', () => {
  it.each([
    [false, null, false],
    [true, null, true],
    [true, BEFORE, true],
    [true, INCIDENT, true],
    [true, AFTER, false],
    [false, BEFORE, false],
  ] as const)('passwordResetRequired(leaked=%p, changed=%p) = %p', (leaked, passwordChangedAt, expected) => {
    expect(passwordResetRequired({ leaked, passwordChangedAt }, INCIDENT)).toBe(expected);
  });

  const NOW = new Date('2026-05-10T08:00:00Z');
  const LATER = new Date(NOW.getTime() + 1);
  it.each([
    ['fraud check', 'SUP-1', LATER, true],
    ['fraud check', 'SUP-1', NOW, false],
    ['fraud check', 'SUP-1', null, false],
    ['', 'SUP-1', LATER, false],
    ['  ', 'SUP-1', LATER, false],
    ['reason', null, LATER, false],
    [null, 'SUP-1', LATER, false],
    ['reason', ' \t', LATER, false],
  ] as const)(
    'hasActiveOverride(%p, %p, expires %p) at NOW = %p',
    (overrideReason, overrideTicket, expires, expected) => {
      expect(hasActiveOverride({ overrideReason, overrideTicket, overrideExpiresAt: expires }, NOW)).toBe(expected);
    },
  );

  it('an override is live strictly before its expiry, whatever the instant asked about', () => {
    fc.assert(
      fc.property(fc.integer({ min: -1e6, max: 1e6 }), (delta) => {
        const at = new Date(NOW.getTime() + delta);
        const record = { overrideReason: 'why', overrideTicket: 'SUP-1', overrideExpiresAt: NOW };
        return hasActiveOverride(record, at) === delta < 0;
      }),
    );
  });
});

describe('support lane', () => {
  const request = { reason: 'doctor cannot bill', ticket: 'SUP-42', incidentAt: INCIDENT };

  it.each([
    ['clean account', {}, false, [], false],
    ['clean account, override asked: nothing to override', {}, true, [], false],
    ['leaked, not reset: overridden and recorded', { leaked: true }, true, ['password_reset_required'], true],
    ['leaked with a live override: nothing to override', { leaked: true, overrideActive: true }, false, [], false],
    ['leaked with a live override, override asked: renewed', { leaked: true, overrideActive: true }, true, [], true],
    ['leaked and reset', { leaked: true, passwordChangedAt: AFTER }, true, [], false],
    ['held: opened now, hold kept', { held: true }, true, ['held'], false],
    [
      'held, leaked, unknown',
      { held: true, leaked: true, knownToMailstore: false },
      true,
      ['held', 'password_reset_required', 'not_found'],
      true,
    ],
    ['unknown to the mailstore: noted, no override needed', { knownToMailstore: false }, false, ['not_found'], false],
    ['already enabled: sent anyway to repair drift', { imap: true, pop3: true }, false, [], false],
  ] as const)('enable, %s', (_case, overrides, override, expectedOverrides, recordOverride) => {
    expect(supportEnableDecision({ ...request, override, account: account(overrides) })).toEqual({
      allowed: true,
      desired: { imap: true, pop3: true },
      overrides: expectedOverrides,
      recordOverride,
    });
  });

  it.each([
    ['leaked, not reset', { leaked: true }, 'password_reset_required'],
    [
      'leaked before the incident, changed at it',
      { leaked: true, passwordChangedAt: INCIDENT },
      'password_reset_required',
    ],
    ['held', { held: true }, 'held'],
    ['held and leaked', { held: true, leaked: true }, 'held, password_reset_required'],
    ['held with a live override', { held: true, leaked: true, overrideActive: true }, 'held'],
  ] as const)('enable of a %s account without override: refused naming the field', (_case, state, named) => {
    for (const override of [undefined, false]) {
      expect(supportEnableDecision({ ...request, override, account: account(state) })).toEqual({
        allowed: false,
        code: 'override_required',
        field: 'override',
        message: `the account is held back (${named}): set override to true to open it anyway`,
      });
    }
  });

  it('enable: an account a wave would hold back opens only with override, and then says what it overrode', () => {
    const arbitraryAccount = fc.record({
      leaked: fc.boolean(),
      passwordChangedAt: fc.constantFrom(null, BEFORE, INCIDENT, AFTER),
      held: fc.boolean(),
      overrideActive: fc.boolean(),
      imap: fc.boolean(),
      pop3: fc.boolean(),
      knownToMailstore: fc.constantFrom(undefined, true, false),
    });
    fc.assert(
      fc.property(arbitraryAccount, fc.constantFrom(undefined, false, true), (a, override) => {
        const decision = supportEnableDecision({ ...request, account: a, override });
        const wave = decideEligibility(a, BOTH, INCIDENT);
        const heldBack = !wave.eligible && (wave.reason === 'held' || wave.reason === 'password_reset_required');
        if (heldBack && override !== true) return !decision.allowed && decision.field === 'override';
        if (!decision.allowed) return false;
        const lifted = decision.overrides.filter((o) => o !== 'not_found');
        return heldBack ? lifted.length > 0 : lifted.length === 0;
      }),
    );
  });

  it('enable sends only the requested protocols', () => {
    expect(supportEnableDecision({ ...request, account: account(), protocols: ['pop3'] })).toMatchObject({
      desired: { pop3: true },
    });
  });

  it.each([
    ['', 'SUP-1', 'reason_required', 'reason'],
    ['   ', 'SUP-1', 'reason_required', 'reason'],
    ['why', '', 'ticket_required', 'ticket'],
    ['why', '\n', 'ticket_required', 'ticket'],
  ] as const)('enable refuses reason=%p ticket=%p', (reason, ticket, code, field) => {
    const decision = supportEnableDecision({ ...request, account: account({ leaked: true }), reason, ticket });
    expect(decision).toMatchObject({ allowed: false, code, field });
    const disable = supportDisableDecision({ account: account(), reason, ticket });
    expect(disable).toMatchObject({ allowed: false, code, field });
  });

  it('disable closes the requested protocols, whatever the account', () => {
    expect(
      supportDisableDecision({ account: account({ held: true, imap: true }), reason: 'abuse', ticket: 'SEC-9' }),
    ).toEqual({ allowed: true, desired: { imap: false, pop3: false }, overrides: [], recordOverride: false });
    expect(
      supportDisableDecision({ account: account(), protocols: ['imap'], reason: 'abuse', ticket: 'SEC-9' }),
    ).toMatchObject({ desired: { imap: false } });
  });
});
