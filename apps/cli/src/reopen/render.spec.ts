import type { Account, Operation } from '../demo/api.types';
import { render } from './render';

const op = (over: Partial<Operation>): Operation => ({
  id: 'op-1',
  login: 'dr.a@example.test',
  kind: 'enable',
  protocols: ['imap', 'pop3'],
  reason: 'practice cannot collect replies',
  ticket: 'SUP-1',
  actor: 'support:bob',
  overrides: [],
  overrideExpiresAt: null,
  state: 'succeeded',
  outcome: 'applied',
  error: null,
  createdAt: '2026-05-09T08:00:00.000Z',
  completedAt: '2026-05-09T08:00:00.118Z',
  ...over,
});

describe('reopen: what support reads', () => {
  it("an operation's end: its outcome and how long it took; a failure's error; a queued one as queued", () => {
    expect(render('operation', op({}))).toEqual([
      'operation op-1: enable imap, pop3 for dr.a@example.test: succeeded (applied) in 118 ms (ticket SUP-1)',
    ]);
    expect(
      render(
        'operation',
        op({
          kind: 'disable',
          state: 'failed',
          outcome: 'http_503',
          error: { kind: 'retryable', status: 503 },
          completedAt: '2026-05-09T08:00:02.100Z',
        }),
      ),
    ).toEqual([
      'operation op-1: disable imap, pop3 for dr.a@example.test: failed (http_503) in 2.1 s: ' +
        '{"kind":"retryable","status":503} (ticket SUP-1)',
    ]);
    expect(render('operation', op({ state: 'queued', outcome: null, completedAt: null, overrides: ['held'] }))).toEqual(
      ['operation op-1: enable imap, pop3 for dr.a@example.test: queued, overriding held (ticket SUP-1)'],
    );
  });

  it('an account: its hold, waves and the five most recent operations, newest first', () => {
    const account: Account = {
      login: 'dr.a@example.test',
      cohorts: ['health'],
      leaked: false,
      passwordChangedAt: null,
      access: { imap: true, pop3: false, mailstoreVersion: 3 },
      held: true,
      hold: { reason: 'fraud check', ticket: 'SEC-9', by: 'support:eve', at: '2026-05-09T09:00:00.000Z' },
      override: null,
      eligibility: { eligible: false, reason: 'held' },
      waves: [{ name: 'health', memberState: 'enabled', reason: null }],
      operations: Array.from({ length: 7 }, (_, i) => op({ id: `op-${i}`, ticket: `SUP-${i}` })),
    };
    expect(render('account', account)).toEqual([
      'login        dr.a@example.test',
      'cohorts      health',
      'access       imap open, pop3 closed',
      'leaked       no',
      'held         yes (waves leave it out)',
      'eligibility  not eligible: held',
      'hold         fraud check (ticket SEC-9, by support:eve, 2026-05-09 09:00:00Z)',
      'wave         health: enabled',
      ...[0, 1, 2, 3, 4].map(
        (i) =>
          `operation    2026-05-09 08:00:00Z enable imap, pop3: succeeded (applied) in 118 ms (ticket SUP-${i}, by support:bob)`,
      ),
      '             and 2 older (--json)',
    ]);
  });

  it("an account's wave since rolled back: the member's outcome, then what the rollback did to it", () => {
    const account: Account = {
      login: 'user7@example.test',
      cohorts: ['general'],
      leaked: false,
      passwordChangedAt: null,
      access: { imap: false, pop3: false, mailstoreVersion: 5 },
      held: false,
      override: null,
      eligibility: { eligible: true, reason: null },
      waves: [
        { name: 'retry', waveState: 'running', memberState: 'pending', reason: null, rollbackState: null },
        {
          name: 'everyone else',
          waveState: 'rolled_back',
          memberState: 'enabled',
          reason: null,
          rollbackState: 'rolled_back',
        },
        { name: 'early', waveState: 'rolled_back', memberState: 'enabled', reason: null, rollbackState: 'conflict' },
      ],
    };
    // Leaked, never reset (why it is held back): said in words, not 'password changed –'.
    expect(render('account', { ...account, leaked: true })).toContain('leaked       yes, no password change recorded');
    expect(render('account', { ...account, leaked: true, passwordChangedAt: '2026-05-02T10:00:00.000Z' })).toContain(
      'leaked       yes, password changed 2026-05-02 10:00:00Z',
    );
    expect(render('account', account).filter((l) => l.startsWith('wave'))).toEqual([
      'wave         retry (running): pending',
      'wave         everyone else (rolled_back): enabled, then rollback: restored to its prior state',
      'wave         early (rolled_back): enabled, then rollback: conflict (changed since, left alone)',
    ]);
  });

  it('rates below 10/s keep their decimals: 0.5/s is not shown as 1/s, nor 0.4/s as 0/s', () => {
    const wave = { id: 'w', name: 'slow', state: 'running', memberCount: 10, startAt: null, ratePerSecond: 0.5 };
    expect(render('waves', { items: [wave] })[1]).toMatch(/ slow +running +0\.5\/s +10 +– *$/);
    expect(render('wave', { ...wave, ratePerSecond: 2.5 })).toContain('rate      2.5/s, batches of –, – in flight');
    expect(render('wave', { ...wave, ratePerSecond: 1200 })).toContain('rate      1,200/s, batches of –, – in flight');
  });

  it("a wave's gates say what they read: the signal and cohort, the window, a Prometheus query and its condition", () => {
    const wave = { id: 'w', name: 'g', state: 'draft', memberCount: null, startAt: null, ratePerSecond: 10 };
    const gates = [
      { name: 'errors', metric: 'mailstore_error_rate', threshold: 0.05, windowSeconds: 300, action: 'pause' },
      {
        name: 'failed-logins',
        metric: 'signal',
        signal: 'failed_logins_per_minute',
        cohort: 'general',
        threshold: 100,
        windowSeconds: 60,
        action: 'halt',
      },
      {
        name: 'prom',
        metric: 'prometheus',
        query: 'sum(rate(x[5m]))',
        failureCondition: 'result > 3',
        action: 'pause',
      },
    ];
    expect(render('wave', { ...wave, gates }).filter((l) => l.startsWith('gate'))).toEqual([
      'gate      errors: mailstore_error_rate above 0.05 over 300 s → pause',
      'gate      failed-logins: signal failed_logins_per_minute for general above 100 over 60 s → halt',
      'gate      prom: prometheus "sum(rate(x[5m]))" failing when result > 3 → pause',
    ]);
  });

  it('a page with more: the hint repeats the command (its filters), not a bare --cursor that drops them', () => {
    const entry = { id: '1', at: '2026-05-09T08:00:00.000Z', actor: 'ops:a', action: 'wave.pause', waveId: 'w' };
    const page = { items: [{ ...entry, login: null, reason: null, ticket: null }], nextCursor: '40689' };
    expect(render('audit', page).at(-1)).toBe('more: the same command with --cursor 40689');
    expect(render('audit', { ...page, nextCursor: null }).at(-1)).not.toMatch(/^more/);
  });

  it('the list says why a wave is paused or halted: which to resume after the mailstore came back', () => {
    const wave = { id: 'w1', name: 'a', state: 'paused', memberCount: 10, startAt: null, ratePerSecond: 50 };
    const lines = render('waves', {
      items: [
        { ...wave, statusReason: 'mailstore_unreachable' },
        { ...wave, id: 'w2', statusReason: 'ops' },
        { ...wave, id: 'w3', state: 'completed', statusReason: null },
      ],
    });
    expect(lines.map((l) => l.split(/ {2,}/)[2])).toEqual([
      'STATE',
      'paused (mailstore_unreachable)',
      'paused (ops)',
      'completed',
    ]);
  });

  it('the workers: alive, stopped (when) and lost, with their builds; none alive says what it means', () => {
    const base = { version: '1.0.0', commit: 'abc1234', driver: 'http', startedAt: '2026-05-09T05:00:00.000Z' };
    expect(
      render('workers', {
        alive: 1,
        api: { version: '1.0.0', commit: 'abc1234' },
        workers: [
          { ...base, id: 'h1/10/aaaaaa', alive: true, lastSeenAt: '2026-05-09T06:00:00.000Z' },
          {
            ...base,
            id: 'h2/11/bbbbbb',
            alive: false,
            lastSeenAt: '2026-05-09T05:30:00.000Z',
            leftAt: '2026-05-09T05:30:01.000Z',
          },
          { ...base, id: 'h3/12/cccccc', version: '0.9.0', alive: false, lastSeenAt: '2026-05-09T05:40:00.000Z' },
        ],
      }),
    ).toEqual([
      '1 alive; the API runs 1.0.0 (abc1234)',
      'ID            STATE                         BUILD            DRIVER  STARTED (UTC)         LAST REPORT (UTC)',
      'h1/10/aaaaaa  alive                         1.0.0 (abc1234)  http    2026-05-09 05:00:00Z  2026-05-09 06:00:00Z',
      'h2/11/bbbbbb  stopped 2026-05-09 05:30:01Z  1.0.0 (abc1234)  http    2026-05-09 05:00:00Z  2026-05-09 05:30:00Z',
      'h3/12/cccccc  lost                          0.9.0 (abc1234)  http    2026-05-09 05:00:00Z  2026-05-09 05:40:00Z',
    ]);
    expect(render('workers', { alive: 0, api: { version: '1.0.0', commit: 'abc1234' }, workers: [] })).toEqual([
      '0 alive: no wave moves, no scheduled start fires; the API runs 1.0.0 (abc1234)',
    ]);
  });
});

describe('reopen: what the second ops key reads before approving', () => {
  it("a support override's request: the account, the change asked with its reason and ticket, the account as shown", () => {
    const lines = render('approval', {
      id: 'ap-1',
      waveId: null,
      command: 'support_override',
      rule: 'support_override',
      args: {
        login: 'dr.a@example.test',
        kind: 'release',
        protocols: [],
        reason: 'customer verified',
        ticket: 'SUP-2',
      },
      state: 'pending',
      hash: 'h',
      plan: {
        login: 'dr.a@example.test',
        held: true,
        holdReason: 'fraud check',
        leaked: false,
        imap: false,
        pop3: false,
      },
      counts: null,
      requestedBy: 'support:carol',
      requestedAt: '2026-05-09T08:00:00.000Z',
      expiresAt: '2026-05-09T09:00:00.000Z',
      decidedBy: null,
      note: null,
      endedReason: null,
      sinceLastApproval: null,
      current: { hash: 'h', matches: true, changes: [] },
    });
    expect(lines[0]).toBe(
      'approval  ap-1: support_override of account dr.a@example.test (rule support_override), pending',
    );
    expect(lines).toContain('change    release (reason: customer verified; ticket SUP-2)');
    expect(lines).toContain(
      'account   {"held":true,"holdReason":"fraud check","imap":false,"leaked":false,"login":"dr.a@example.test","pop3":false}',
    );
  });
});
