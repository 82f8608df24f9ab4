import { ApprovalCounts } from './approval';
import { scheduleFireRefusal, ScheduleApproval } from './schedule-approval';

const counts = (eligible: number, heldBack: Record<string, number> = {}): ApprovalCounts => ({
  scope: 'selector',
  eligible,
  heldBack: { held: 5, password_reset_required: 3, already_enabled: 10, not_found: 0, ...heldBack },
});
const plan = { rate_per_second: 100, selector: { type: 'remaining' }, name: 'wave 2' };
const approved: ScheduleApproval = { approvalId: 'a1', plan, counts: counts(1000) };
const fields = (now: Parameters<typeof scheduleFireRefusal>[1]) =>
  scheduleFireRefusal(approved, now).map((c) => c.field);

describe('scheduleFireRefusal: a scheduled start fires only on what its approval saw', () => {
  it('fires on the approved plan and counts', () => {
    expect(scheduleFireRefusal(approved, { plan: { ...plan }, counts: counts(1000) })).toEqual([]);
  });

  it('lists every count that moved with a plan change, the tolerated ones too', () => {
    expect(fields({ plan: { ...plan, name: 'renamed' }, counts: counts(990) })).toEqual([
      'plan.name',
      'counts.eligible',
    ]);
  });

  it('refuses any change of the plan, field by field', () => {
    expect(scheduleFireRefusal(approved, { plan: { ...plan, rate_per_second: 200 }, counts: counts(1000) })).toEqual([
      { field: 'plan.rate_per_second', before: 100, after: 200 },
    ]);
    expect(fields({ plan: { ...plan, windows: [{ days: ['mon'] }] }, counts: counts(1000) })).toEqual(['plan.windows']);
  });

  it('fires when accounts were opened meanwhile: they left the scope, or became already enabled', () => {
    expect(fields({ plan, counts: counts(400) })).toEqual([]);
    expect(fields({ plan, counts: counts(990, { already_enabled: 20 }) })).toEqual([]);
    expect(fields({ plan, counts: counts(980, { already_enabled: 15 }) })).toEqual([]);
  });

  it('refuses an unchanged plan whose approval came from, or was given by, a key revoked since', () => {
    expect(scheduleFireRefusal(approved, { plan: { ...plan }, counts: counts(1000) }, true)).toEqual([
      { field: 'approval', before: 'a1', after: 'a key that asked for or gave it was revoked' },
    ]);
  });

  it('refuses more eligible accounts (an import, a hold lifted)', () => {
    expect(fields({ plan, counts: counts(1001) })).toEqual(['counts.eligible']);
  });

  it('refuses a held-back count that moved (accounts held, leaked, reset, imported as held)', () => {
    expect(fields({ plan, counts: counts(990, { held: 15 }) })).toEqual(['counts.eligible', 'counts.heldBack.held']);
    expect(fields({ plan, counts: counts(1000, { password_reset_required: 4 }) })).toEqual([
      'counts.heldBack.password_reset_required',
    ]);
    expect(fields({ plan, counts: counts(1000, { not_found: 1 }) })).toEqual(['counts.heldBack.not_found']);
  });

  it('refuses already-enabled accounts that did not come out of eligible', () => {
    expect(fields({ plan, counts: counts(1000, { already_enabled: 11 }) })).toEqual([
      'counts.heldBack.already_enabled',
    ]);
    expect(fields({ plan, counts: counts(999, { already_enabled: 12 }) }).sort()).toEqual([
      'counts.eligible',
      'counts.heldBack.already_enabled',
    ]);
    expect(fields({ plan, counts: counts(999, { already_enabled: 9 }) }).sort()).toEqual([
      'counts.eligible',
      'counts.heldBack.already_enabled',
    ]);
  });

  it('at unchanged counts, fires only on the eligible accounts approved (their digest)', () => {
    const digested = (eligible: number, eligibleDigest: string, heldBack: Record<string, number> = {}) => ({
      ...counts(eligible, heldBack),
      eligibleDigest,
    });
    const withDigest: ScheduleApproval = { approvalId: 'a2', plan, counts: digested(1000, '00000000000000aa') };
    const refusal = (now: ApprovalCounts) => scheduleFireRefusal(withDigest, { plan, counts: now });
    expect(refusal(digested(1000, '00000000000000aa'))).toEqual([]);
    // One account leaked, another reset: the same counts, another set.
    expect(refusal(digested(1000, '00000000000000bb'))).toEqual([
      { field: 'counts.eligibleDigest', before: '00000000000000aa', after: '00000000000000bb' },
    ]);
    // Narrowed by accounts opened meanwhile: the digest moves with them, which is tolerated then.
    expect(refusal(digested(990, '00000000000000cc', { already_enabled: 20 }))).toEqual([]);
    // Moved in a way the counts refuse: listed with the rest.
    expect(refusal(digested(1001, '00000000000000dd')).map((c) => c.field)).toEqual([
      'counts.eligible',
      'counts.eligibleDigest',
    ]);
    // Approved before the digest existed: held to its counts alone.
    expect(fields({ plan, counts: digested(1000, '00000000000000ee') })).toEqual([]);
  });

  it('refuses a schedule with no approval on record', () => {
    expect(scheduleFireRefusal(null, { plan, counts: counts(1000) }).map((c) => c.field)).toEqual(['approval']);
  });
});
