import {
  afterFailedAttempt,
  DEFAULT_BACKOFF,
  isAcknowledged,
  retryDelayMs,
  signatureOf,
  verifySignature,
} from './notification-delivery';
import {
  NOTIFIABLE_ACTIONS,
  NOTIFICATION_FORMATS,
  NOTIFICATION_KINDS,
  NotificationEvent,
  notificationBody,
  notificationKindOf,
  NotificationKind,
  statusPageLink,
  summarize,
} from './notifications';
import { createHmac } from 'node:crypto';

const WAVE = '3f2a0000-0000-4000-8000-000000000001';
const event = (over: Partial<NotificationEvent> = {}): NotificationEvent => ({
  id: 'e0000000-0000-4000-8000-000000000001',
  kind: 'wave.halted',
  at: new Date('2026-05-11T06:00:00Z'),
  actor: 'engine',
  waveId: WAVE,
  waveName: 'everyone else',
  login: null,
  reason: null,
  before: { state: 'running', reason: null },
  after: { state: 'halted', reason: 'gate:failed-logins' },
  detail: {
    gates: [
      { gate: 'error-rate', value: 0.01, threshold: 0.05 },
      { gate: 'failed-logins', value: 412, threshold: 100 },
    ],
  },
  ...over,
});

describe('notificationKindOf: which audit rows are events', () => {
  it.each([
    ['wave.schedule', 'ops:alice', 'wave.scheduled'],
    ['wave.start', 'ops:alice', 'wave.started'],
    ['wave.fire_schedule', 'scheduler', 'wave.started'],
    ['wave.step_pause', 'ramp', 'wave.ramp_step_done'],
    ['wave.pause', 'ops:alice', 'wave.paused'],
    ['wave.gate_pause', 'engine', 'wave.paused'],
    ['wave.window_closed', 'windows', 'wave.paused'],
    ['wave.window_opened', 'windows', 'wave.resumed'],
    ['wave.halt', 'engine', 'wave.halted'],
    ['wave.resume', 'ops:alice', 'wave.resumed'],
    ['wave.resume', 'ramp', null],
    ['wave.complete', 'engine', 'wave.completed'],
    ['wave.cancel', 'ops:alice', 'wave.cancelled'],
    ['wave.rollback', 'ops:alice', 'wave.rollback_started'],
    ['wave.rollback_complete', 'engine', 'wave.rollback_finished'],
    ['approval.requested', 'ops:alice', 'approval.requested'],
    ['approval.given', 'ops:bob', 'approval.given'],
    ['wave.created', 'ops:alice', null],
    ['wave.updated', 'ops:alice', null],
    ['wave.unschedule', 'ops:alice', null],
    ['wave.schedule_fired', 'scheduler', null],
    ['wave.membership_frozen', 'engine', null],
    ['member.enabled', 'engine', null],
    ['support.hold', 'support:bob', null],
    ['api_key.created', 'admin', null],
  ] as const)('%s by %s → %s', (action, actor, kind) => {
    expect(notificationKindOf({ action, actor })).toBe(kind);
  });

  it.each([
    [{ overrides: ['support_hold'] }, 'account.override'],
    [{ overrides: ['password_reset_required'] }, 'account.override'],
    [{ overrides: ['not_found', 'support_hold'] }, 'account.override'],
    [{ overrides: ['not_found'] }, null],
    [{ overrides: [] }, null],
    [{ overrides: 'support_hold' }, null],
    [{}, null],
    [null, null],
  ])('support.enable_requested with %j → %s', (detail, kind) => {
    expect(notificationKindOf({ action: 'support.enable_requested', actor: 'support:bob', detail })).toBe(kind);
  });

  it('every kind is reachable from a notifiable action, and only those actions give one', () => {
    const reached = new Set<NotificationKind>();
    for (const action of NOTIFIABLE_ACTIONS) {
      const kind = notificationKindOf({ action, actor: 'ops:x', detail: { overrides: ['support_hold'] } });
      expect(kind).not.toBeNull();
      reached.add(kind!);
    }
    expect([...reached].sort()).toEqual([...NOTIFICATION_KINDS].sort());
  });
});

describe('summarize: what an event says', () => {
  it('a halt names the gate that broke, its value and its threshold', () => {
    const s = summarize(event());
    expect(s.title).toBe('Wave "everyone else" HALTED');
    expect(s.gate).toEqual({ gate: 'failed-logins', value: 412, threshold: 100 });
    expect(s.reason).toBe('gate failed-logins: value 412, threshold 100');
  });

  it('an inconclusive pause names its gate, without a value', () => {
    const s = summarize(
      event({
        kind: 'wave.paused',
        after: { state: 'paused', reason: 'inconclusive:p99' },
        detail: { gates: [{ gate: 'p99', threshold: 2 }] },
      }),
    );
    expect(s).toEqual({
      title: 'Wave "everyone else" paused',
      reason: 'gate p99: value n/a, threshold 2',
      gate: { gate: 'p99', value: null, threshold: 2 },
    });
  });

  it('a gate missing from the detail still names the gate', () => {
    expect(summarize(event({ detail: null })).gate).toEqual({ gate: 'failed-logins', value: null, threshold: null });
  });

  it('a pause for another reason gives that reason, an ops pause the actor', () => {
    expect(summarize(event({ kind: 'wave.paused', after: { reason: 'mailstore_unreachable' } })).reason).toBe(
      'mailstore_unreachable',
    );
    expect(summarize(event({ kind: 'wave.paused', actor: 'ops:alice', after: { reason: 'ops' } })).reason).toBe('ops');
    expect(summarize(event({ kind: 'wave.paused', actor: 'ops:alice', after: null })).reason).toBe('by ops:alice');
  });

  it('a time window: the pause says when it opens, the resume that it opened', () => {
    const closed = event({
      kind: 'wave.paused',
      actor: 'windows',
      after: { state: 'paused', reason: 'outside_window' },
      detail: { opensAt: '2026-05-11T06:00:00.000Z' },
    });
    expect(summarize(closed).reason).toBe('outside its time window; opens 2026-05-11T06:00:00.000Z');
    expect(summarize({ ...closed, detail: {} }).reason).toBe('outside its time window; opens at the next window');
    expect(summarize(event({ kind: 'wave.resumed', actor: 'windows' })).reason).toBe('its time window opened');
  });

  it('a finished rollback counts its conflicts', () => {
    const s = summarize(event({ kind: 'wave.rollback_finished', detail: { conflicts: 3, restored: 10 } }));
    expect(s).toMatchObject({
      title: 'Wave "everyone else": rollback finished',
      reason: '3 conflict(s)',
      conflicts: 3,
    });
    expect(summarize(event({ kind: 'wave.rollback_finished', detail: {} })).conflicts).toBe(0);
  });

  it('a support override names the account and the reason', () => {
    const s = summarize(
      event({
        kind: 'account.override',
        waveId: null,
        waveName: null,
        login: 'u@x.test',
        reason: 'TICKET-1 doctor',
        actor: 'support:bob',
      }),
    );
    expect(s.title).toBe('Support override: u@x.test opened despite a hold');
    expect(s.reason).toBe('TICKET-1 doctor (by support:bob)');
  });

  it('approvals name the command', () => {
    expect(summarize(event({ kind: 'approval.requested', detail: { command: 'start' }, actor: 'ops:a' })).title).toBe(
      'Wave "everyone else": approval requested for start',
    );
    expect(summarize(event({ kind: 'approval.given', detail: {}, actor: 'ops:b' })).title).toBe(
      'Wave "everyone else": a command approved',
    );
  });

  it("a support override's approval names the account, not a wave", () => {
    const override = (kind: 'approval.requested' | 'approval.given', change: string) =>
      summarize(
        event({
          kind,
          waveId: null,
          waveName: null,
          detail: { command: 'support_override', args: { login: 'u@x.test', kind: change } },
          actor: 'support:c',
        }),
      ).title;
    expect(override('approval.requested', 'enable')).toBe(
      'Account u@x.test: approval requested for support_override (enable)',
    );
    expect(override('approval.given', 'release')).toBe('Account u@x.test: support_override (release) approved');
  });

  it('a ramp step names its step, counted from 1', () => {
    expect(summarize(event({ kind: 'wave.ramp_step_done', detail: { step: 0 } })).title).toBe(
      'Wave "everyone else": ramp step 1 done, baking',
    );
    expect(summarize(event({ kind: 'wave.ramp_step_done', detail: {} })).title).toBe(
      'Wave "everyone else": ramp step done, baking',
    );
  });

  it('a wave without its name is named by its id', () => {
    expect(summarize(event({ kind: 'wave.completed', waveName: null })).title).toBe(`Wave ${WAVE} completed`);
  });

  it.each(NOTIFICATION_KINDS)('%s has a title and a reason', (kind) => {
    const s = summarize(event({ kind }));
    expect(s.title.length).toBeGreaterThan(0);
    expect(s.reason.length).toBeGreaterThan(0);
  });

  it('a scheduled start says so', () => {
    expect(summarize(event({ kind: 'wave.started', actor: 'scheduler' })).reason).toBe('its scheduled start');
    expect(summarize(event({ kind: 'wave.started', actor: 'ops:alice' })).reason).toBe('by ops:alice');
  });
});

describe('notificationBody: the four formats', () => {
  const url = 'https://reopen.example/';

  it('json: the whole event, its summary and the link', () => {
    expect(notificationBody('json', event(), url)).toEqual({
      id: 'e0000000-0000-4000-8000-000000000001',
      kind: 'wave.halted',
      at: '2026-05-11T06:00:00.000Z',
      actor: 'engine',
      wave: { id: WAVE, name: 'everyone else' },
      login: null,
      title: 'Wave "everyone else" HALTED',
      reason: 'gate failed-logins: value 412, threshold 100',
      gate: { gate: 'failed-logins', value: 412, threshold: 100 },
      statusPage: `https://reopen.example/#wave-${WAVE}`,
      before: { state: 'running', reason: null },
      after: { state: 'halted', reason: 'gate:failed-logins' },
      detail: event().detail,
    });
  });

  it('slack: one mrkdwn line with the wave, the reason and the link, escaped', () => {
    expect(notificationBody('slack', event(), url)).toEqual({
      text: `*Wave "everyone else" HALTED*: gate failed-logins: value 412, threshold 100 <https://reopen.example/#wave-${WAVE}|status page>`,
    });
    const odd = notificationBody('slack', event({ waveName: 'a <b> & c' }), url) as { text: string };
    expect(odd.text).toContain('a &lt;b&gt; &amp; c');
  });

  it('mattermost: one Markdown line, escaped', () => {
    expect(notificationBody('mattermost', event({ waveName: 'wave_*1*' }), url)).toEqual({
      text: `**Wave "wave\\_\\*1\\*" HALTED**: gate failed-logins: value 412, threshold 100 [status page](https://reopen.example/#wave-${WAVE})`,
    });
  });

  it('teams: a MessageCard with the title, the reason and an OpenUri action; red for a halt', () => {
    expect(notificationBody('teams', event(), url)).toEqual({
      '@type': 'MessageCard',
      '@context': 'https://schema.org/extensions',
      summary: 'Wave "everyone else" HALTED',
      themeColor: 'D70000',
      title: 'Wave "everyone else" HALTED',
      text: 'gate failed-logins: value 412, threshold 100',
      potentialAction: [
        {
          '@type': 'OpenUri',
          name: 'Status page',
          targets: [{ os: 'default', uri: `https://reopen.example/#wave-${WAVE}` }],
        },
      ],
    });
    expect(
      (notificationBody('teams', event({ kind: 'wave.completed' }), url) as { themeColor: string }).themeColor,
    ).toBe('0076D7');
  });

  it.each(NOTIFICATION_FORMATS)('%s: every kind serializes, short (under 1 kB)', (format) => {
    for (const kind of NOTIFICATION_KINDS) {
      const text = JSON.stringify(notificationBody(format, event({ kind }), url));
      if (format !== 'json') expect(text.length).toBeLessThan(1024);
      expect(JSON.parse(text)).toBeTruthy();
    }
  });

  it('the link goes to the status page, with the wave when there is one', () => {
    expect(statusPageLink('http://127.0.0.1:3000', null)).toBe('http://127.0.0.1:3000/');
    expect(statusPageLink('http://h///', 'w')).toBe('http://h/#wave-w');
  });
});

describe('signature', () => {
  const secret = 'whsec_test';
  const body = '{"id":"1"}';

  it('is v1= hex HMAC-SHA256 of "<timestamp>.<body>"', () => {
    const expected = createHmac('sha256', secret).update(`1700000000.${body}`).digest('hex');
    expect(signatureOf(secret, 1700000000, body)).toBe(`v1=${expected}`);
  });

  it('verifies a fresh signature, refuses a changed body, another secret, a stale or future timestamp', () => {
    const sig = signatureOf(secret, 1700000000, body);
    const h = { timestamp: '1700000000', signature: sig };
    expect(verifySignature(secret, h, body, 1700000010)).toBe(true);
    expect(verifySignature(secret, h, '{"id":"2"}', 1700000010)).toBe(false);
    expect(verifySignature('whsec_other', h, body, 1700000010)).toBe(false);
    expect(verifySignature(secret, h, body, 1700000000 + 301)).toBe(false);
    expect(verifySignature(secret, h, body, 1700000000 - 301)).toBe(false);
    expect(verifySignature(secret, h, body, 1700000000 + 301, 600)).toBe(true);
  });

  it('refuses a missing or malformed header, and a signature for another timestamp', () => {
    const sig = signatureOf(secret, 1700000000, body);
    expect(verifySignature(secret, { timestamp: undefined, signature: sig }, body, 1700000000)).toBe(false);
    expect(verifySignature(secret, { timestamp: '1700000000', signature: undefined }, body, 1700000000)).toBe(false);
    expect(verifySignature(secret, { timestamp: '17e8', signature: sig }, body, 1700000000)).toBe(false);
    expect(verifySignature(secret, { timestamp: '1700000001', signature: sig }, body, 1700000000)).toBe(false);
    expect(verifySignature(secret, { timestamp: '1700000000', signature: 'v1=00' }, body, 1700000000)).toBe(false);
  });
});

describe('retryDelayMs: the backoff', () => {
  it.each([
    [1, 1_000],
    [2, 2_000],
    [3, 4_000],
    [4, 8_000],
    [8, 128_000],
    [9, 256_000],
    [10, 300_000],
    [100, 300_000],
    [0, 1_000],
  ])('attempt %i waits %i ms', (attempt, ms) => {
    expect(retryDelayMs(attempt, DEFAULT_BACKOFF)).toBe(ms);
  });

  it("a 429's Retry-After is honoured as given, past the backoff's maximum too, up to an hour", () => {
    expect(retryDelayMs(1, DEFAULT_BACKOFF, 7_000)).toBe(7_000);
    expect(retryDelayMs(5, DEFAULT_BACKOFF, 0)).toBe(0);
    expect(retryDelayMs(1, { baseMs: 50, maxMs: 200 }, 1_000)).toBe(1_000);
    expect(retryDelayMs(1, DEFAULT_BACKOFF, 3_600_000)).toBe(3_600_000);
    expect(retryDelayMs(1, DEFAULT_BACKOFF, 7_200_000)).toBe(3_600_000);
    expect(retryDelayMs(1, DEFAULT_BACKOFF, -5)).toBe(0);
    expect(retryDelayMs(3, DEFAULT_BACKOFF, undefined)).toBe(4_000);
    expect(retryDelayMs(3, DEFAULT_BACKOFF, Number.NaN)).toBe(4_000);
  });

  it('follows its settings', () => {
    expect(retryDelayMs(3, { baseMs: 50, maxMs: 150 })).toBe(150);
    expect(retryDelayMs(2, { baseMs: 50, maxMs: 150 })).toBe(100);
  });
});

describe('afterFailedAttempt: the give-up bound', () => {
  const day = { afterMs: 86_400_000, maxAttempts: 0 };

  it('tries again after the backoff while the bound is far', () => {
    expect(afterFailedAttempt(3, 3_600_000, 4_000, day)).toEqual({ giveUp: false, delayMs: 4_000 });
  });

  it('makes its last attempt when the bound falls, not a backoff after it', () => {
    expect(afterFailedAttempt(40, 1_500, 300_000, day)).toEqual({ giveUp: false, delayMs: 1_500 });
  });

  it('gives up once the bound has passed, whatever the count', () => {
    expect(afterFailedAttempt(1, 0, 1_000, day)).toEqual({ giveUp: true });
    expect(afterFailedAttempt(1, -5, 1_000, day)).toEqual({ giveUp: true });
  });

  it('gives up at the attempts bound when one is set; 0 means none', () => {
    const three = { afterMs: 86_400_000, maxAttempts: 3 };
    expect(afterFailedAttempt(2, 60_000, 1_000, three)).toEqual({ giveUp: false, delayMs: 1_000 });
    expect(afterFailedAttempt(3, 60_000, 1_000, three)).toEqual({ giveUp: true });
    expect(afterFailedAttempt(300, 60_000, 1_000, day)).toEqual({ giveUp: false, delayMs: 1_000 });
  });
});

describe('isAcknowledged', () => {
  it.each([
    [200, true],
    [204, true],
    [299, true],
    [300, false],
    [429, false],
    [500, false],
    [199, false],
    [null, false],
  ])('%s → %s', (status, ok) => {
    expect(isAcknowledged(status)).toBe(ok);
  });
});
