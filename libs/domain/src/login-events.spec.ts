import {
  failureRatio,
  failuresPerMinute,
  LOGIN_BUCKET_SECONDS,
  loginBucket,
  readLoginEvent,
  shouldReclose,
  validateReclose,
} from './login-events';

const NOW = new Date('2026-12-06T11:36:30Z');
const LIMITS = { maxAgeMs: 600_000, maxSkewMs: 60_000 };

/** As Debian's Dovecot 2.3.19 posted them (captured 2026-12-06; ports and durations trimmed). */
const SUCCESS = {
  event: 'auth_request_finished',
  hostname: 'vm',
  start_time: '2026-12-06T11:35:59.367721Z',
  end_time: '2026-12-06T11:36:03.371297Z',
  categories: ['service:auth', 'auth'],
  fields: {
    success: 'yes',
    policy_result: 'ok',
    mechanism: 'PLAIN',
    service: 'imap',
    session: 'kzFDg/VhYo5/AAAB',
    remote_ip: '127.0.0.1',
    real_remote_ip: '127.0.0.1',
    original_user: 'Alice@Example.org',
    user: 'alice@example.org',
    translated_user: 'alice@example.org',
  },
};
/** A wrong password: no `success` field at all. */
const FAILURE = {
  event: 'auth_request_finished',
  end_time: '2026-12-06T11:36:22.761649Z',
  categories: ['service:auth', 'auth'],
  fields: {
    mechanism: 'PLAIN',
    service: 'pop3',
    session: 'q7XGhPVh5Mx/AAAB',
    remote_ip: '203.0.113.9',
    real_remote_ip: '10.0.0.1',
    original_user: 'alice@example.org',
    user: 'alice@example.org',
    policy_result: 'ok',
  },
};

describe('readLoginEvent', () => {
  it('reads a success and a failure as Dovecot 2.3 sends them', () => {
    expect(readLoginEvent(SUCCESS, NOW, LIMITS)).toEqual({
      login: 'alice@example.org',
      service: 'imap',
      success: true,
      remoteIp: '127.0.0.1',
      at: new Date('2026-12-06T11:36:03.371Z'),
      key: 'kzFDg/VhYo5/AAAB|2026-12-06T11:36:03.371297Z',
    });
    // The client's own address (remote_ip, forwarded by a trusted proxy or webmail), not the proxy's (real_remote_ip).
    expect(readLoginEvent(FAILURE, NOW, LIMITS)).toMatchObject({
      service: 'pop3',
      success: false,
      remoteIp: '203.0.113.9',
    });
  });

  it('takes the passdb’s name (user), lower-cased, and what the client typed (original_user) when that is absent', () => {
    // auth_default_realm: the client typed the local part, the passdb (and the service's accounts) know the address.
    const realm = { ...FAILURE, fields: { ...FAILURE.fields, original_user: 'Alice', user: 'alice@example.org' } };
    expect(readLoginEvent(realm, NOW, LIMITS)).toMatchObject({ login: 'alice@example.org' });
    const { user: _, ...fields } = SUCCESS.fields;
    expect(readLoginEvent({ ...SUCCESS, fields }, NOW, LIMITS)).toMatchObject({ login: 'alice@example.org' });
  });

  it('reads end_time as seconds since the epoch too (format_args = time-unix)', () => {
    const unix = { ...FAILURE, end_time: 1796556982.5 };
    expect(readLoginEvent(unix, new Date(1796556990_000), LIMITS)).toMatchObject({ at: new Date(1796556982_500) });
  });

  it.each([
    ['not an object', 'x', 'malformed'],
    ['an array', [SUCCESS], 'malformed'],
    ['null', null, 'malformed'],
    ['no event name', { fields: SUCCESS.fields }, 'malformed'],
    ['another event', { ...SUCCESS, event: 'imap_command_finished' }, 'not_a_login'],
    ['no fields', { event: 'auth_request_finished', end_time: SUCCESS.end_time }, 'malformed'],
    ['no user', { ...SUCCESS, fields: { service: 'imap' } }, 'malformed'],
    ['an empty user', { ...SUCCESS, fields: { ...SUCCESS.fields, original_user: '', user: '' } }, 'malformed'],
    ['a huge user', { ...SUCCESS, fields: { ...SUCCESS.fields, user: 'a'.repeat(321) } }, 'malformed'],
    ['no service', { ...SUCCESS, fields: { user: 'a@b' } }, 'malformed'],
    ['smtp', { ...SUCCESS, fields: { ...SUCCESS.fields, service: 'smtp' } }, 'other_service'],
    ['no end time', { ...SUCCESS, end_time: undefined }, 'malformed'],
    ['a bad end time', { ...SUCCESS, end_time: 'yesterday-ish' }, 'malformed'],
    ['an event from 11 minutes ago', { ...SUCCESS, end_time: '2026-12-06T11:25:29Z' }, 'stale'],
    ['an event 2 minutes ahead', { ...SUCCESS, end_time: '2026-12-06T11:38:31Z' }, 'stale'],
  ])('drops %s', (_what, input, reason) => {
    expect(readLoginEvent(input, NOW, LIMITS)).toBe(reason);
  });

  it('keeps an event without a usable address, address unknown', () => {
    const fields = { ...FAILURE.fields, remote_ip: 'not an ip', real_remote_ip: undefined };
    expect(readLoginEvent({ ...FAILURE, fields }, NOW, LIMITS)).toMatchObject({ remoteIp: null, success: false });
  });
});

describe('counts', () => {
  it('buckets of 10 s', () => {
    expect(LOGIN_BUCKET_SECONDS).toBe(10);
    expect(loginBucket(new Date('2026-12-06T11:36:29.999Z'))).toEqual(new Date('2026-12-06T11:36:20Z'));
    expect(loginBucket(new Date('2026-12-06T11:36:30Z'))).toEqual(new Date('2026-12-06T11:36:30Z'));
  });

  it('failures per minute and the failure ratio', () => {
    expect(failuresPerMinute({ failed: 30, succeeded: 0, windowSeconds: 120 })).toBe(15);
    expect(failureRatio({ failed: 1, succeeded: 3, windowSeconds: 60 })).toBe(0.25);
    // No login at all: no ratio (missing data is not "go"; the gate says insufficient).
    expect(failureRatio({ failed: 0, succeeded: 0, windowSeconds: 60 })).toBeNull();
  });
});

describe('the per-account reaction (a wave’s reclose)', () => {
  const policy = { failures: 5, distinctIps: 3, windowSeconds: 300 };

  it('re-closes only when both the failures and the distinct addresses reach the policy', () => {
    expect(shouldReclose({ failures: 5, distinctIps: 3 }, policy)).toBe(true);
    expect(shouldReclose({ failures: 50, distinctIps: 2 }, policy)).toBe(false); // one user mistyping, twice
    expect(shouldReclose({ failures: 4, distinctIps: 4 }, policy)).toBe(false);
  });

  it('validates the policy, naming each field', () => {
    expect(validateReclose(undefined)).toEqual([]);
    expect(validateReclose(null)).toEqual([]);
    expect(validateReclose(policy)).toEqual([]);
    expect(validateReclose('often').map((e) => e.field)).toEqual(['reclose']);
    expect(
      validateReclose({ failures: 0, distinctIps: 1.5, windowSeconds: 45, extra: 1 }).map((e) => e.message),
    ).toEqual([
      'reclose.failures must be ≥ 1',
      'reclose.distinctIps must be an integer',
      'reclose.windowSeconds must be a multiple of 10',
      'reclose.extra is not a known field',
    ]);
  });
});
