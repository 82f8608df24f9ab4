import { ApiCallError } from '../demo/api-client';
import { Check, gatherPreflight, judge, PreflightInput, PreflightWave, renderChecks } from './preflight';

const NOW = Date.parse('2026-05-08T20:00:00.000Z');
const BUILD = { version: '1.0.0', commit: 'abc1234' };

const wave = (over: Partial<PreflightWave> = {}): PreflightWave => ({
  id: 'w1',
  name: 'health',
  state: 'scheduled',
  startAt: '2026-05-09T06:00:00.000Z',
  startLocal: '2026-05-09T08:00',
  timeZone: 'Europe/Paris',
  gates: [{ name: 'errors' }],
  windows: null,
  ...over,
});

/** Everything fine: dependencies up, one worker of the API's build, one wave with a gate, one subscription. */
const fine = (over: Partial<PreflightInput> = {}): PreflightInput => ({
  dependencies: { database: { status: 'up' }, redis: { status: 'up' }, mailstore: { status: 'up' } },
  workers: { alive: 1, api: BUILD, workers: [{ id: 'h/1/aa', alive: true, ...BUILD }] },
  waves: [{ wave: wave(), eligible: 5000, pendingApprovals: [] }],
  subscriptions: [{ name: 'incident room', failed: 0 }],
  ...over,
});

const notOk = (checks: Check[]) => checks.filter((c) => c.level !== 'ok');

describe('reopen preflight: the go/no-go rules', () => {
  it('all fine: every check ok, GO', () => {
    const checks = judge(fine(), NOW);
    expect(notOk(checks)).toEqual([]);
    expect(checks.map((c) => c.detail)).toEqual([
      'PostgreSQL answers',
      'Redis answers',
      'the mailstore (the configured driver) answers',
      '1 alive',
      'starts 2026-05-09T08:00 Europe/Paris (2026-05-09T06:00:00.000Z), in 10 h',
      '5000 eligible',
      '1 subscription(s)',
    ]);
    expect(renderChecks(checks).at(-1)).toBe('GO');
  });

  it.each(['database', 'redis', 'mailstore'])('%s down: a fail with its message', (name) => {
    const input = fine();
    input.dependencies[name] = { status: 'down', message: 'ECONNREFUSED' };
    expect(notOk(judge(input, NOW))).toEqual([
      { level: 'fail', name, detail: expect.stringMatching(/is down: ECONNREFUSED$/) },
    ]);
  });

  it('a dependency missing from the report is a fail too', () => {
    const input = fine({ dependencies: { database: { status: 'up' }, redis: { status: 'up' } } });
    expect(notOk(judge(input, NOW))).toEqual([
      { level: 'fail', name: 'mailstore', detail: 'the mailstore (the configured driver) is down' },
    ]);
  });

  it('no worker alive: a fail naming the last ones seen', () => {
    const input = fine({ workers: { alive: 0, api: BUILD, workers: [{ id: 'h/1/aa', alive: false, ...BUILD }] } });
    expect(notOk(judge(input, NOW))).toEqual([
      {
        level: 'fail',
        name: 'workers',
        detail: 'no worker is running: no wave moves, no scheduled start fires (last seen: h/1/aa)',
      },
    ]);
  });

  it('Redis down: the roster unreadable (503) is a FAIL with the dependency, NO-GO (exit 7), not an API failure (3)', async () => {
    const answers: Record<string, unknown> = {
      '/health/dependencies': {
        dependencies: {
          database: { status: 'up' },
          redis: { status: 'down', message: 'ECONNREFUSED' },
          mailstore: { status: 'up' },
        },
      },
      '/waves?state=scheduled&limit=200': { items: [] },
      '/subscriptions': { items: [{ name: 'incident room', deliveries: { failed: 0 } }] },
    };
    const reader = {
      get: <T>(path: string): Promise<T> =>
        path === '/workers'
          ? Promise.reject(
              new ApiCallError('GET', '/api/v1/workers', 503, { detail: 'Redis does not answer', code: 'x' }, ''),
            )
          : Promise.resolve(answers[path] as T),
    };
    const checks = judge(await gatherPreflight(reader, { withinHours: 24, waves: [] }, NOW), NOW);
    expect(checks.filter((c) => c.level === 'fail')).toEqual([
      { level: 'fail', name: 'redis', detail: 'Redis is down: ECONNREFUSED' },
      {
        level: 'fail',
        name: 'workers',
        detail: 'cannot tell whether any worker runs: GET /workers answered 503: Redis does not answer',
      },
    ]);
    expect(renderChecks(checks).at(-1)).toBe('NO-GO: 2 failed check(s), 1 warning(s)');
    // A refusal (a support key: 403) is not a dependency down: it still fails the command (exit 2).
    const refused = new ApiCallError('GET', '/api/v1/workers', 403, { detail: 'no' }, '');
    const support = { get: <T>(path: string) => (path === '/workers' ? Promise.reject(refused) : reader.get<T>(path)) };
    await expect(gatherPreflight(support, { withinHours: 24, waves: [] }, NOW)).rejects.toBe(refused);
  });

  it('a worker of another build: a warning; a dead one of another build is not counted', () => {
    const input = fine({
      workers: {
        alive: 1,
        api: BUILD,
        workers: [
          { id: 'h/2/bb', alive: true, version: '0.9.0', commit: 'def5678' },
          { id: 'h/1/aa', alive: false, version: '0.8.0', commit: 'fff0000' },
        ],
      },
    });
    expect(notOk(judge(input, NOW))).toEqual([
      {
        level: 'warn',
        name: 'workers',
        detail: 'h/2/bb runs 0.9.0 (def5678); the API runs 1.0.0 (abc1234)',
      },
    ]);
  });

  it('a wave still scheduled after its start: a fail that asks for a worker', () => {
    const input = fine({
      waves: [
        {
          wave: wave({ startAt: '2026-05-08T19:45:00.000Z', startLocal: null, timeZone: null }),
          eligible: 10,
          pendingApprovals: [],
        },
      ],
    });
    expect(notOk(judge(input, NOW))).toEqual([
      {
        level: 'fail',
        name: 'wave "health" (w1)',
        detail: 'still scheduled 15 min after its start (2026-05-08T19:45:00.000Z): is a worker running?',
      },
    ]);
    expect(renderChecks(judge(input, NOW)).at(-1)).toBe('NO-GO: 1 failed check(s), 0 warning(s)');
  });

  it('a scheduled wave without a start time: a fail', () => {
    const input = fine({ waves: [{ wave: wave({ startAt: null }), eligible: 10, pendingApprovals: [] }] });
    expect(notOk(judge(input, NOW)).map((c) => [c.level, c.detail])).toEqual([
      ['fail', 'scheduled without a start time'],
    ]);
  });

  it('a named draft: a warning; a named running wave: ok, eligibility not asked; a finished one: its state only', () => {
    const input = fine({
      waves: [
        { wave: wave({ state: 'draft', startAt: null }), eligible: 10, pendingApprovals: [] },
        { wave: wave({ id: 'w2', name: 'everyone', state: 'running' }), eligible: 0, pendingApprovals: [] },
        { wave: wave({ id: 'w3', name: 'done', state: 'completed', gates: [] }), eligible: 0, pendingApprovals: [] },
      ],
    });
    const checks = judge(input, NOW);
    expect(notOk(checks).map((c) => [c.level, c.detail])).toEqual([
      ['warn', 'a draft: it starts only when scheduled or started'],
    ]);
    expect(checks.filter((c) => c.name.includes('(w2)')).map((c) => c.detail)).toEqual(['is running']);
    expect(checks.filter((c) => c.name.includes('(w3)')).map((c) => c.detail)).toEqual(['is completed']);
  });

  it('a running wave without a gate: still a warning', () => {
    const input = fine({
      waves: [{ wave: wave({ state: 'running', gates: [] }), eligible: 0, pendingApprovals: [] }],
    });
    expect(notOk(judge(input, NOW)).map((c) => c.detail)).toEqual([
      'no gate: nothing halts it by itself (docs/gates.md)',
    ]);
  });

  it('no eligible member, no gate, a pending approval: one warning each', () => {
    const input = fine({
      waves: [{ wave: wave({ gates: [] }), eligible: 0, pendingApprovals: [{ id: 'a1', command: 'schedule' }] }],
    });
    expect(notOk(judge(input, NOW)).map((c) => [c.level, c.detail])).toEqual([
      ['warn', 'no eligible member: it would open nothing'],
      ['warn', 'no gate: nothing halts it by itself (docs/gates.md)'],
      ['warn', 'approval a1 for schedule is pending: reopen approvals show a1'],
    ]);
    expect(renderChecks(judge(input, NOW)).at(-1)).toBe('GO with 3 warning(s) to read');
  });

  it('a gate inconclusive now (a running wave pauses on it), or breached now: a warning each; others quiet', () => {
    const input = fine({
      waves: [
        {
          wave: wave(),
          eligible: 10,
          pendingApprovals: [],
          gateCheck: [
            { gate: 'feed', status: 'inconclusive', reason: 'no signal failed_logins received' },
            { gate: 'errors', status: 'breached', reason: 'error rate 0.2 above 0.05' },
            { gate: 'quiet', status: 'insufficient_data', reason: 'no call yet' },
            { gate: 'prom', status: 'inconclusive', reason: 'trial query: query failed: unreachable (ECONNREFUSED)' },
          ],
        },
      ],
    });
    expect(notOk(judge(input, NOW)).map((c) => c.detail)).toEqual([
      'gate feed is inconclusive now (a running wave pauses on it): no signal failed_logins received',
      'gate errors is breached now: error rate 0.2 above 0.05',
      'gate prom is inconclusive now (a running wave pauses on it): trial query: query failed: unreachable (ECONNREFUSED)',
    ]);
  });

  it('no wave in the window: a warning', () => {
    expect(notOk(judge(fine({ waves: [] }), NOW))).toEqual([
      { level: 'warn', name: 'waves', detail: 'no wave is scheduled in the window (and none was named)' },
    ]);
  });

  it('no subscription, or deliveries given up: a warning', () => {
    expect(notOk(judge(fine({ subscriptions: [] }), NOW)).map((c) => c.detail)).toEqual([
      'no subscription: nobody is told when a wave halts (docs/notifications.md)',
    ]);
    const failing = fine({
      subscriptions: [
        { name: 'pager', failed: 3 },
        { name: 'chat', failed: 0 },
      ],
    });
    expect(notOk(judge(failing, NOW)).map((c) => c.detail)).toEqual([
      'given-up deliveries: pager (3): reopen subscriptions redeliver ID',
    ]);
  });

  it('durations read in minutes, then hours', () => {
    const far = fine({
      waves: [
        {
          wave: wave({ startAt: '2026-05-11T06:00:00.000Z', startLocal: '2026-05-11T08:00' }),
          eligible: 1,
          pendingApprovals: [],
        },
      ],
    });
    expect(judge(far, NOW).find((c) => c.name.startsWith('wave'))?.detail).toBe(
      'starts 2026-05-11T08:00 Europe/Paris (2026-05-11T06:00:00.000Z), in 58 h',
    );
  });

  it('lines are aligned by level', () => {
    expect(renderChecks([{ level: 'warn', name: 'x', detail: 'y' }])).toEqual([
      'warn  x: y',
      'GO with 1 warning(s) to read',
    ]);
    expect(renderChecks([{ level: 'ok', name: 'x', detail: 'y' }])[0]).toBe('ok    x: y');
  });
});
