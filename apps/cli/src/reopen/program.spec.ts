import { parseReopen, ReopenRun } from './program';

/** What a command line asks of the API, without a server: the mapping is the unit here. */
function run(...argv: string[]): ReopenRun {
  const line = parseReopen(argv);
  if (line.kind !== 'run') throw new Error(`${argv.join(' ')}: ${line.kind} ${line.kind === 'help' ? '' : line.text}`);
  return line.value;
}

const ID = '3f2a9c1e-5b7d-4e8f-9a0b-1c2d3e4f5a6b';

describe('reopen: command line → API request', () => {
  it.each([
    [['waves', 'list'], 'GET', '/waves', undefined],
    [
      ['waves', 'list', '--state', 'halted', '--limit', '5', '--cursor', 'abc'],
      'GET',
      '/waves?state=halted&limit=5&cursor=abc',
      undefined,
    ],
    [['waves', 'show', ID], 'GET', `/waves/${ID}`, undefined],
    [['waves', 'preview', ID], 'GET', `/waves/${ID}/preview`, undefined],
    [['waves', 'schedule', ID], 'POST', `/waves/${ID}/schedule`, undefined],
    [['waves', 'unschedule', ID], 'POST', `/waves/${ID}/unschedule`, undefined],
    [['waves', 'start', ID], 'POST', `/waves/${ID}/start`, undefined],
    [['waves', 'pause', ID], 'POST', `/waves/${ID}/pause`, undefined],
    [['waves', 'resume', ID], 'POST', `/waves/${ID}/resume`, undefined],
    [['waves', 'cancel', ID], 'POST', `/waves/${ID}/cancel`, undefined],
    [['waves', 'rollback', ID], 'POST', `/waves/${ID}/rollback`, undefined],
    [['waves', 'set-rate', ID, '12.5'], 'PATCH', `/waves/${ID}`, { ratePerSecond: 12.5 }],
    [['approvals', 'list'], 'GET', '/approvals', undefined],
    [
      ['approvals', 'list', '--state', 'approved', '--wave', ID, '--limit', '3'],
      'GET',
      `/approvals?state=approved&waveId=${ID}&limit=3`,
      undefined,
    ],
    [['approvals', 'show', ID], 'GET', `/approvals/${ID}`, undefined],
    [['approvals', 'approve', ID], 'POST', `/approvals/${ID}/approve`, {}],
    [['approvals', 'approve', ID, '--note', 'seen'], 'POST', `/approvals/${ID}/approve`, { note: 'seen' }],
    [['approvals', 'reject', ID, '--reason', 'no'], 'POST', `/approvals/${ID}/reject`, { reason: 'no' }],
    [['subscriptions', 'redeliver', ID], 'POST', `/subscriptions/${ID}/deliveries/redeliver`, undefined],
    [
      ['subscriptions', 'redeliver', ID, '--delivery', '42'],
      'POST',
      `/subscriptions/${ID}/deliveries/42/redeliver`,
      undefined,
    ],
    [['accounts', 'show', 'Dr.A+x@example.org'], 'GET', '/accounts/Dr.A%2Bx%40example.org', undefined],
    [
      ['accounts', 'hold', 'a@x.test', '--reason', 'r', '--ticket', 't'],
      'POST',
      '/accounts/a%40x.test/hold',
      { reason: 'r', ticket: 't' },
    ],
    [
      ['accounts', 'release', 'a@x.test', '--reason', 'r', '--ticket', 't'],
      'DELETE',
      '/accounts/a%40x.test/hold',
      { reason: 'r', ticket: 't' },
    ],
    [['audit'], 'GET', '/audit', undefined],
    [['workers'], 'GET', '/workers', undefined],
    [
      [
        'audit',
        '--wave',
        ID,
        '--login',
        'a@x.test',
        '--from',
        '2026-05-09T08:00:00Z',
        '--action',
        'wave.*',
        '--commands',
        '--limit',
        '20',
      ],
      'GET',
      `/audit?waveId=${ID}&login=a%40x.test&from=2026-05-09T08%3A00%3A00Z&action=wave.*&kind=commands&limit=20`,
      undefined,
    ],
  ])('%j → %s %s', (argv, method, path, body) => {
    const request = body === undefined ? { method, path } : { method, path, body };
    expect(run(...argv).job).toEqual({ kind: 'call', request, view: expect.any(String) });
  });

  it('maps support enable and disable to operations that wait for their end, unless --no-wait', () => {
    expect(
      run(
        'accounts',
        'enable',
        'a@x.test',
        '--reason',
        'on the phone',
        '--ticket',
        'SUP-1',
        '--protocols',
        'imap',
        '--override',
      ).job,
    ).toEqual({
      kind: 'operation',
      request: {
        method: 'POST',
        path: '/accounts/a%40x.test/enable',
        body: { reason: 'on the phone', ticket: 'SUP-1', protocols: ['imap'], override: true },
      },
      wait: true,
    });
    expect(
      run('accounts', 'enable', 'a@x.test', '--reason', 'r', '--ticket', 'SUP-3', '--idempotency-key', 'SUP-3-1').job,
    ).toMatchObject({ request: { headers: { 'Idempotency-Key': 'SUP-3-1' } } });
    expect(run('accounts', 'disable', 'a@x.test', '--ticket', 'SUP-2', '--reason', 'abuse', '--no-wait').job).toEqual({
      kind: 'operation',
      request: { method: 'POST', path: '/accounts/a%40x.test/disable', body: { reason: 'abuse', ticket: 'SUP-2' } },
      wait: false,
    });
  });

  it('takes the global options before or after the command', () => {
    expect(run('--json', 'waves', 'list').global).toEqual({
      json: true,
      profile: undefined,
      url: undefined,
      timeoutSeconds: 30,
    });
    expect(run('waves', 'pause', ID, '--json', '--profile', 'prod', '--timeout', '5').global).toEqual({
      json: true,
      profile: 'prod',
      url: undefined,
      timeoutSeconds: 5,
    });
    expect(run('waves', 'show', ID, '--url', 'http://x:3000').global).toMatchObject({
      json: false,
      url: 'http://x:3000',
    });
  });

  it('maps create and watch to their own jobs', () => {
    expect(run('waves', 'create', '-f', 'plans/health.yaml').job).toEqual({
      kind: 'create',
      file: 'plans/health.yaml',
    });
    expect(run('waves', 'create', '--file=p.json').job).toEqual({ kind: 'create', file: 'p.json' });
    expect(run('waves', 'watch', ID).job).toEqual({ kind: 'watch', waveId: ID });
  });

  it('maps pause --all to the emergency stop, and pause ID to its command', () => {
    expect(run('waves', 'pause', '--all').job).toEqual({ kind: 'pause-all' });
    expect(run('waves', 'pause', ID).job).toEqual({
      kind: 'call',
      request: { method: 'POST', path: `/waves/${ID}/pause` },
      view: 'command',
    });
  });

  it('maps preflight to its checks: 24 hours by default, repeated --wave', () => {
    expect(run('preflight').job).toEqual({ kind: 'preflight', withinHours: 24, waves: [] });
    expect(run('preflight', '--within', '2.5', '--wave', ID, '--wave', 'w2').job).toEqual({
      kind: 'preflight',
      withinHours: 2.5,
      waves: [ID, 'w2'],
    });
  });

  it.each([
    [['waves', 'set-rate', ID, 'fast'], "argument 'perSecond'. not a number"],
    [['waves', 'list', '--limit', '0'], 'not a positive integer'],
    [['preflight', '--within', '0'], 'not a positive number'],
    // A timeout of 0 or less failed every call as "cannot reach the API" (exit 3): a typo, not an outage.
    [['workers', '--timeout', '0'], "option '--timeout <seconds>' argument '0' is invalid. not a positive number"],
    [['--timeout', '-5', 'workers'], 'not a positive number'],
    [['waves', 'list', '--state', 'done'], 'Allowed choices are draft, scheduled'],
    [
      ['accounts', 'enable', 'a', '--reason', 'r', '--ticket', 't', '--protocols', 'imap,smtp'],
      '"smtp" is not one of imap, pop3',
    ],
    [['accounts', 'hold', 'a', '--reason', 'r'], "required option '--ticket <id>' not specified"],
    [['waves', 'create'], "required option '-f, --file <plan>' not specified"],
    [['waves', 'pause'], 'give a wave id or --all (not both)'],
    [['waves', 'pause', ID, '--all'], 'give a wave id or --all (not both)'],
    [['waves', 'pause', ID, ID], 'too many arguments'],
    [['waves', 'list', '--jsn'], "unknown option '--jsn'"],
    [['wave', 'list'], "unknown command 'wave'"],
  ])('refuses %j: %s', (argv, message) => {
    const line = parseReopen(argv);
    expect(line.kind).toBe('usage_error');
    if (line.kind === 'usage_error') expect(line.text).toContain(message);
  });

  it('answers help for the program, a group and a command', () => {
    for (const argv of [['--help'], ['help'], ['waves', '--help'], ['waves', 'watch', '-h'], ['help', 'audit']]) {
      const line = parseReopen(argv);
      expect(line.kind).toBe('help');
    }
    const watch = parseReopen(['waves', 'watch', '--help']);
    expect(watch.kind === 'help' && watch.text).toMatch(/^Usage: reopen waves watch \[options\] <id>\n\nlive progress/);
    // A bare group is no command: its help, as a usage error.
    expect(parseReopen(['accounts'])).toMatchObject({
      kind: 'usage_error',
      text: expect.stringContaining('Usage: reopen accounts'),
    });
  });
});
