import {
  APPROVAL_RULES,
  ApprovalAction,
  approvalHash,
  ApprovalPolicy,
  ApprovalRecord,
  approvalRuleFor,
  weakensGuards,
  ApprovalSubject,
  canApprove,
  canReject,
  canExecute,
  canonicalJson,
  canonicalPlan,
  diffJson,
  effectivePolicy,
  loosens,
  normalizeWavePolicy,
  parseApprovalRules,
  validateWavePolicy,
  WAVE_RUNTIME_COLUMNS,
} from './approval';
import { FieldErrors } from './validation';

const policy = (require: ApprovalPolicy['require'], rateBound: number | null = null): ApprovalPolicy => ({
  require,
  rateBound,
});

/** A stored wave row as to_jsonb(waves) gives it. */
const row = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  id: '6f1c0b8e-0000-4000-8000-000000000001',
  name: 'wave 1',
  description: null,
  selector: { type: 'cohorts', cohorts: ['health'] },
  protocols: ['imap', 'pop3'],
  start_local: '2026-05-09T08:00',
  time_zone: 'Europe/Paris',
  start_at: '2026-05-09T06:00:00+00:00',
  rate_per_second: 500,
  rollback_rate_per_second: 500,
  batch_size: 500,
  concurrency: 4,
  steps: [
    { percent: 10, bakeSeconds: 60 },
    { percent: 100, bakeSeconds: 0 },
  ],
  gates: [{ metric: 'error_rate', threshold: 0.05, windowSeconds: 60, onBreach: 'halt' }],
  reclose: null,
  windows: null,
  approval_policy: null,
  state: 'draft',
  status_reason: null,
  version: 1,
  generation: 0,
  updated_at: '2026-05-01T00:00:00+00:00',
  ...over,
});

const subject = (over: Partial<ApprovalSubject> = {}): ApprovalSubject => ({
  waveId: 'w1',
  command: 'schedule',
  args: {},
  plan: canonicalPlan(row()),
  counts: { scope: 'selector', eligible: 100, heldBack: { held: 3, password_reset_required: 2 } },
  ...over,
});

describe('parseApprovalRules', () => {
  it('reads a comma list, trimming and sorting into the rules order', () => {
    expect(parseApprovalRules(' rollback, start ,,raise_rate')).toEqual({
      rules: ['start', 'rollback', 'raise_rate'],
      unknown: [],
    });
  });
  it('is empty for an empty list', () => {
    expect(parseApprovalRules('')).toEqual({ rules: [], unknown: [] });
  });
  it('names the unknown rules', () => {
    expect(parseApprovalRules('start,resume,Start')).toEqual({ rules: ['start'], unknown: ['resume', 'Start'] });
  });
  it('removes duplicates', () => {
    expect(parseApprovalRules('start,start').rules).toEqual(['start']);
  });
});

describe('effectivePolicy', () => {
  it('is the deployment policy when the wave has none', () => {
    expect(effectivePolicy(policy(['rollback'], 1000), null)).toEqual(policy(['rollback'], 1000));
  });
  it('adds the wave rules to the deployment ones (union, sorted)', () => {
    expect(effectivePolicy(policy(['rollback']), { require: ['start', 'rollback'] })).toEqual(
      policy(['start', 'rollback']),
    );
  });
  it('keeps the lower rate bound', () => {
    expect(effectivePolicy(policy([], 1000), { rateBound: 200 }).rateBound).toBe(200);
    expect(effectivePolicy(policy([], 100), { rateBound: 200 }).rateBound).toBe(100);
  });
  it('takes a bound from either side when the other has none', () => {
    expect(effectivePolicy(policy([]), { rateBound: 200 }).rateBound).toBe(200);
    expect(effectivePolicy(policy([], 50), { rateBound: null }).rateBound).toBe(50);
  });
  it('never drops a deployment rule (a wave cannot loosen it)', () => {
    expect(effectivePolicy(policy([...APPROVAL_RULES]), { require: [] }).require).toEqual([...APPROVAL_RULES]);
  });
});

describe('loosens', () => {
  it('is false from nothing to anything', () => {
    expect(loosens(null, { require: ['start'] })).toBe(false);
    expect(loosens(null, null)).toBe(false);
  });
  it('is true when a rule is dropped', () => {
    expect(loosens({ require: ['start', 'rollback'] }, { require: ['start'] })).toBe(true);
    expect(loosens({ require: ['start'] }, null)).toBe(true);
  });
  it('is false when a rule is added', () => {
    expect(loosens({ require: ['start'] }, { require: ['start', 'rollback'] })).toBe(false);
  });
  it('is true when the bound goes up or away, false when it goes down', () => {
    expect(loosens({ rateBound: 100 }, { rateBound: 200 })).toBe(true);
    expect(loosens({ rateBound: 100 }, { rateBound: null })).toBe(true);
    expect(loosens({ rateBound: 100 }, { rateBound: 50 })).toBe(false);
    expect(loosens({ rateBound: null }, { rateBound: 50 })).toBe(false);
  });
});

describe('validateWavePolicy', () => {
  const check = (v: unknown) => {
    const f = new FieldErrors();
    validateWavePolicy(f, 'approvalPolicy', v);
    return f.errors.map((e) => e.field);
  };
  it('accepts null, absent and a full policy', () => {
    expect(check(null)).toEqual([]);
    expect(check(undefined)).toEqual([]);
    expect(check({ require: ['start', 'rollback'], rateBound: 100 })).toEqual([]);
    expect(check({})).toEqual([]);
  });
  it('names each field at fault', () => {
    expect(check('start')).toEqual(['approvalPolicy']);
    expect(check([])).toEqual(['approvalPolicy']);
    expect(check({ require: 'start' })).toEqual(['approvalPolicy.require']);
    expect(check({ require: ['start', 'nope'] })).toEqual(['approvalPolicy.require[1]']);
    expect(check({ rateBound: 0 })).toEqual(['approvalPolicy.rateBound']);
    expect(check({ rateBound: 'x' })).toEqual(['approvalPolicy.rateBound']);
    expect(check({ extra: 1 })).toEqual(['approvalPolicy.extra']);
  });
});

describe('normalizeWavePolicy', () => {
  it('sorts the rules and fills the bound', () => {
    expect(normalizeWavePolicy({ require: ['rollback', 'start'] })).toEqual(policy(['start', 'rollback']));
  });
  it('is null without a policy', () => {
    expect(normalizeWavePolicy(null)).toBeNull();
    expect(normalizeWavePolicy(undefined)).toBeNull();
  });
});

describe('approvalRuleFor', () => {
  const all = policy([...APPROVAL_RULES], 1000);
  const none = policy([], 1000);
  const cases: [string, ApprovalPolicy, ApprovalAction, string | null][] = [
    ['schedule under start', all, { command: 'schedule', ratePerSecond: 10 }, 'start'],
    ['start under start', all, { command: 'start', ratePerSecond: 10 }, 'start'],
    ['start without rules', none, { command: 'start', ratePerSecond: 10 }, null],
    [
      'start above the bound under raise_rate only',
      policy(['raise_rate'], 100),
      { command: 'start', ratePerSecond: 101 },
      'raise_rate',
    ],
    ['start at the bound', policy(['raise_rate'], 100), { command: 'schedule', ratePerSecond: 100 }, null],
    ['start above a bound without the rule', policy([], 100), { command: 'start', ratePerSecond: 1e6 }, null],
    ['raise_rate without a bound', policy(['raise_rate']), { command: 'start', ratePerSecond: 1e6 }, null],
    ['resume of a halted wave', all, { command: 'resume', state: 'halted' }, 'resume_after_halt'],
    ['resume of a paused wave', all, { command: 'resume', state: 'paused' }, null],
    ['resume of a halted wave without the rule', none, { command: 'resume', state: 'halted' }, null],
    ['rollback', all, { command: 'rollback' }, 'rollback'],
    ['rollback without the rule', none, { command: 'rollback' }, null],
    [
      'rate raised above the bound',
      all,
      { command: 'update', currentRate: 500, newRate: 1001, state: 'running', weakensGuards: false },
      'raise_rate',
    ],
    [
      'rate raised to the bound',
      all,
      { command: 'update', currentRate: 500, newRate: 1000, state: 'running', weakensGuards: false },
      null,
    ],
    [
      'rate lowered while above the bound',
      all,
      { command: 'update', currentRate: 5000, newRate: 2000, state: 'running', weakensGuards: false },
      null,
    ],
    [
      'rate unchanged',
      all,
      { command: 'update', currentRate: 5000, newRate: 5000, state: 'running', weakensGuards: false },
      null,
    ],
    [
      'update without a rate',
      all,
      { command: 'update', currentRate: 5000, newRate: undefined, state: 'running', weakensGuards: false },
      null,
    ],
    [
      'rate raised without the rule',
      none,
      { command: 'update', currentRate: 500, newRate: 5000, state: 'running', weakensGuards: false },
      null,
    ],
    [
      'any update of a scheduled wave under start',
      policy(['start']),
      { command: 'update', currentRate: 500, newRate: undefined, state: 'scheduled', weakensGuards: false },
      'start',
    ],
    [
      'an update of a draft under start',
      policy(['start']),
      { command: 'update', currentRate: 500, newRate: undefined, state: 'draft', weakensGuards: false },
      null,
    ],
    [
      'an update of a scheduled wave without start',
      policy(['raise_rate'], 1000),
      { command: 'update', currentRate: 500, newRate: 600, state: 'scheduled', weakensGuards: false },
      null,
    ],
    [
      'an update of a started wave that takes a guard away, under start',
      policy(['start']),
      { command: 'update', currentRate: 500, newRate: undefined, state: 'paused', weakensGuards: true },
      'start',
    ],
    [
      'an update of a draft that takes a guard away, under start',
      policy(['start']),
      { command: 'update', currentRate: 500, newRate: undefined, state: 'draft', weakensGuards: true },
      null,
    ],
    [
      'an update of a started wave that takes a guard away, without start',
      policy(['raise_rate', 'rollback'], 1000),
      { command: 'update', currentRate: 500, newRate: undefined, state: 'running', weakensGuards: true },
      null,
    ],
    ['support override', all, { command: 'support_override' }, 'support_override'],
    ['support override without the rule', none, { command: 'support_override' }, null],
  ];
  it.each(cases)('%s', (_name, p, action, expected) => {
    expect(approvalRuleFor(p, action)).toBe(expected);
  });
});

describe('canonicalPlan', () => {
  it('drops every runtime column and keeps the rest', () => {
    const plan = canonicalPlan(row());
    for (const c of WAVE_RUNTIME_COLUMNS) expect(plan).not.toHaveProperty(c);
    expect(Object.keys(plan)).toEqual([...Object.keys(plan)].sort());
    expect(plan.rate_per_second).toBe(500);
  });
  it('keeps a column it does not know (a field added later is bound too)', () => {
    const plan = canonicalPlan(row({ windows: [{ days: ['mon'], from: '08:00', to: '20:00' }] }));
    expect(plan.windows).toEqual([{ days: ['mon'], from: '08:00', to: '20:00' }]);
  });
  it('does not depend on key order, nested ones included', () => {
    const a = canonicalPlan({ b: 1, a: { y: 2, x: [{ q: 1, p: 2 }] } });
    const b = canonicalPlan({ a: { x: [{ p: 2, q: 1 }], y: 2 }, b: 1 });
    expect(canonicalJson(a)).toBe(canonicalJson(b));
  });
  it('turns dates into ISO strings and undefined fields into nothing', () => {
    expect(canonicalJson(canonicalPlan({ at: new Date('2026-05-01T00:00:00Z'), x: undefined }))).toBe(
      '{"at":"2026-05-01T00:00:00.000Z"}',
    );
  });
  it('refuses what JSON cannot carry', () => {
    expect(() => canonicalJson({ f: () => 1 })).toThrow(TypeError);
  });
});

describe('approvalHash', () => {
  const base = approvalHash(subject());
  it('is a SHA-256 in hex and stable', () => {
    expect(base).toMatch(/^[0-9a-f]{64}$/);
    expect(approvalHash(subject())).toBe(base);
  });
  it('does not move with runtime columns', () => {
    const plan = canonicalPlan(row({ state: 'scheduled', version: 7, updated_at: '2027-01-01T00:00:00+00:00' }));
    expect(approvalHash(subject({ plan }))).toBe(base);
  });
  it("does not move when the wave's window closes (what closeWindow writes is runtime)", () => {
    const plan = canonicalPlan(
      row({
        state: 'paused',
        status_reason: 'outside_window',
        status_detail: { closedAt: '2026-05-11T18:00:00.000Z', opensAt: '2026-05-18T06:00:00.000Z' },
        generation: 1,
        version: 3,
      }),
    );
    expect(approvalHash(subject({ plan }))).toBe(base);
  });
  const changes: [string, Partial<ApprovalSubject>][] = [
    ['the rate', { plan: canonicalPlan(row({ rate_per_second: 501 })) }],
    ['the selector', { plan: canonicalPlan(row({ selector: { type: 'remaining' } })) }],
    ['the protocols', { plan: canonicalPlan(row({ protocols: ['imap'] })) }],
    ['the start time', { plan: canonicalPlan(row({ start_at: '2026-05-09T07:00:00+00:00' })) }],
    ['the zone', { plan: canonicalPlan(row({ time_zone: 'UTC' })) }],
    ['the batch size', { plan: canonicalPlan(row({ batch_size: 100 })) }],
    ['the ramp', { plan: canonicalPlan(row({ steps: [{ percent: 100, bakeSeconds: 0 }] })) }],
    ['a gate threshold', { plan: canonicalPlan(row({ gates: [{ metric: 'error_rate', threshold: 0.1 }] })) }],
    [
      'the time windows',
      {
        plan: canonicalPlan(
          row({ windows: { timeZone: 'Europe/Paris', allowed: [{ days: ['mon'], start: '08:00', end: '20:00' }] } }),
        ),
      },
    ],
    ['a field added later', { plan: canonicalPlan(row({ windows_v2: [] })) }],
    ['the eligible count', { counts: { scope: 'selector', eligible: 101, heldBack: { held: 3 } } }],
    [
      'a held-back count',
      { counts: { scope: 'selector', eligible: 100, heldBack: { held: 4, password_reset_required: 2 } } },
    ],
    ['the command', { command: 'start' }],
    ['the arguments', { args: { ratePerSecond: 2000 } }],
    ['the wave', { waveId: 'w2' }],
  ];
  it.each(changes)('moves with %s', (_what, over) => {
    expect(approvalHash(subject(over))).not.toBe(base);
  });
});

describe('diffJson', () => {
  it('is empty for equal plans whatever the key order', () => {
    expect(diffJson({ a: 1, b: { c: [1, 2] } }, { b: { c: [1, 2] }, a: 1 })).toEqual([]);
  });
  it('names each changed field with its path', () => {
    const before = canonicalPlan(row());
    const after = canonicalPlan(
      row({
        rate_per_second: 2000,
        gates: [{ metric: 'error_rate', threshold: 0.1, windowSeconds: 60, onBreach: 'halt' }],
        steps: [{ percent: 100, bakeSeconds: 0 }],
      }),
    );
    expect(diffJson(before, after)).toEqual([
      { field: 'gates[0].threshold', before: 0.05, after: 0.1 },
      { field: 'rate_per_second', before: 500, after: 2000 },
      { field: 'steps[0].bakeSeconds', before: 60, after: 0 },
      { field: 'steps[0].percent', before: 10, after: 100 },
      { field: 'steps[1]', before: { bakeSeconds: 0, percent: 100 }, after: undefined },
    ]);
  });
  it('reports a field added or removed', () => {
    expect(diffJson({ a: 1 }, { a: 1, windows: [] })).toEqual([{ field: 'windows', before: undefined, after: [] }]);
    expect(diffJson({ a: 1, b: null }, { a: 1 })).toEqual([{ field: 'b', before: null, after: undefined }]);
  });
  it('compares a value that changes type whole', () => {
    expect(diffJson({ s: { type: 'remaining' } }, { s: 'x' })).toEqual([
      { field: 's', before: { type: 'remaining' }, after: 'x' },
    ]);
  });
  it('prefixes a path', () => {
    expect(diffJson({ held: 1 }, { held: 2 }, 'counts.heldBack')).toEqual([
      { field: 'counts.heldBack.held', before: 1, after: 2 },
    ]);
  });
  it('names the root when two scalars differ', () => {
    expect(diffJson(1, 2)).toEqual([{ field: '.', before: 1, after: 2 }]);
  });
});

describe('canApprove and canExecute', () => {
  const now = new Date('2026-05-09T06:00:00Z');
  const record = (over: Partial<ApprovalRecord> = {}): ApprovalRecord => ({
    state: 'pending',
    hash: 'h1',
    requestedBy: 'key-a',
    requestedActor: 'ops:alice',
    expiresAt: new Date(now.getTime() + 60_000),
    ...over,
  });
  const other = { identity: 'key-b', role: 'ops', actor: 'ops:bob' };

  it('lets a second ops key approve a pending, unexpired, unchanged request', () => {
    expect(canApprove(record(), other, 'h1', now)).toBeNull();
  });
  it('refuses the requester', () => {
    expect(canApprove(record(), { identity: 'key-a', role: 'ops', actor: 'ops:alice' }, 'h1', now)).toBe(
      'self_approval',
    );
  });
  it("refuses another key of the requester's name: a rotated key, or the same person's key of another role", () => {
    expect(canApprove(record(), { identity: 'key-a2', role: 'ops', actor: 'ops:alice' }, 'h1', now)).toBe(
      'self_approval',
    );
    const override = record({ requestedBy: 'key-c', requestedActor: 'support:carol' });
    expect(canApprove(override, { identity: 'key-c2', role: 'ops', actor: 'ops:Carol ' }, 'h1', now)).toBe(
      'self_approval',
    );
    expect(canApprove(override, { identity: 'key-d', role: 'ops', actor: 'ops:carol-bis' }, 'h1', now)).toBeNull();
  });
  it('lets any ops key reject, and another role withdraw only its own request', () => {
    expect(canReject(record(), { identity: 'key-b', role: 'ops' })).toBe(true);
    expect(canReject(record({ requestedBy: 'key-c' }), { identity: 'key-c', role: 'support' })).toBe(true);
    expect(canReject(record({ requestedBy: 'key-c' }), { identity: 'key-d', role: 'support' })).toBe(false);
  });
  it('refuses a key that is not ops', () => {
    expect(canApprove(record(), { identity: 'key-b', role: 'support', actor: 'support:bob' }, 'h1', now)).toBe(
      'wrong_role',
    );
  });
  it('refuses once the plan or the counts moved', () => {
    expect(canApprove(record(), other, 'h2', now)).toBe('plan_changed');
  });
  it('refuses at and after the expiry', () => {
    expect(canApprove(record({ expiresAt: now }), other, 'h1', now)).toBe('expired');
  });
  it.each(['approved', 'rejected', 'executed', 'invalidated', 'expired'] as const)('refuses a %s request', (state) => {
    expect(canApprove(record({ state }), other, 'h1', now)).toBe('not_pending');
  });

  it('lets an approved, unexpired, unchanged request run', () => {
    expect(canExecute(record({ state: 'approved' }), 'h1', now)).toBeNull();
  });
  it('does not run a request that moved, expired or was not approved', () => {
    expect(canExecute(record({ state: 'approved' }), 'h2', now)).toBe('plan_changed');
    expect(canExecute(record({ state: 'approved', expiresAt: new Date(now.getTime() - 1) }), 'h1', now)).toBe(
      'expired',
    );
    for (const state of ['pending', 'rejected', 'executed', 'invalidated', 'expired'] as const) {
      expect(canExecute(record({ state }), 'h1', now)).toBe('not_approved');
    }
  });
});

describe('weakensGuards', () => {
  const gate = { metric: 'mailstore_error_rate', threshold: 0.05, windowSeconds: 60, action: 'halt' };
  const other = { metric: 'signal', signal: 'fails', threshold: 10, windowSeconds: 60, action: 'pause' };
  const reclose = { failures: 5, distinctIps: 2, windowSeconds: 600 };
  const current = { gates: [gate, other], reclose };
  it.each([
    ['nothing about guards', {}, false],
    [
      'the same gates, keys in another order',
      { gates: [{ ...other }, { windowSeconds: 60, action: 'halt', threshold: 0.05, metric: 'mailstore_error_rate' }] },
      false,
    ],
    ['a gate added, the others kept', { gates: [gate, other, { ...gate, threshold: 0.01 }] }, false],
    ['every gate removed', { gates: [] }, true],
    ['one gate removed', { gates: [gate] }, true],
    ['a threshold raised', { gates: [{ ...gate, threshold: 0.5 }, other] }, true],
    ['an action softened', { gates: [{ ...gate, action: 'pause' }, other] }, true],
    ['the reaction removed', { reclose: null }, true],
    ['the reaction changed', { reclose: { ...reclose, failures: 50 } }, true],
    ['the same reaction sent again', { reclose: { ...reclose } }, false],
  ])('%s: %s', (_what, update, expected) => {
    expect(weakensGuards(current, update)).toBe(expected);
  });
  it('a reaction added where there was none takes nothing away', () => {
    expect(weakensGuards({ gates: [], reclose: null }, { reclose })).toBe(false);
  });
});
