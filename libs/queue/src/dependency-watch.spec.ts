import {
  DependencyEvent,
  DependencyUnreachableError,
  DependencyWatch,
  describeConnectionError,
  isConnectionError,
  openOrSayUnreachable,
  probeEvery,
} from './dependency-watch';

const refused = () =>
  Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6390'), {
    code: 'ECONNREFUSED',
    address: '127.0.0.1',
    port: 6390,
  });

function setup(remindEveryMs = 30_000) {
  let now = Date.parse('2026-12-06T07:00:00.000Z');
  const lines: DependencyEvent[] = [];
  const watch = new DependencyWatch('redis', (e) => lines.push(e), { remindEveryMs, now: () => now });
  return { watch, lines, advance: (ms: number) => (now += ms) };
}

describe('DependencyWatch', () => {
  it('logs one unreachable line however many clients and retries fail', () => {
    const { watch, lines, advance } = setup();
    for (let i = 0; i < 20; i++) {
      watch.failed('queue', refused());
      watch.failed('throttler', refused());
      advance(1000);
    }
    expect(lines).toEqual([
      {
        level: 'error',
        msg: 'redis unreachable',
        dependency: 'redis',
        state: 'unreachable',
        since: '2026-12-06T07:00:00.000Z',
        error: 'ECONNREFUSED 127.0.0.1:6390',
      },
    ]);
    expect(watch.down).toBe(true);
  });

  it('reminds at most once per period while the outage lasts, with its duration', () => {
    const { watch, lines, advance } = setup(30_000);
    watch.failed('queue', refused());
    for (let i = 0; i < 90; i++) {
      advance(1000);
      watch.failed('queue', refused());
    }
    expect(lines.map((l) => [l.state, l.level, l.downForMs])).toEqual([
      ['unreachable', 'error', undefined],
      ['still_unreachable', 'warn', 30_000],
      ['still_unreachable', 'warn', 60_000],
      ['still_unreachable', 'warn', 90_000],
    ]);
  });

  it('logs recovered once, with the outage length, when every failed client is back', () => {
    const { watch, lines, advance } = setup();
    watch.failed('queue', refused());
    advance(500);
    watch.failed('throttler', refused());
    advance(4500);
    watch.ok('queue');
    expect(lines).toHaveLength(1); // the throttler's client is still down
    advance(250);
    watch.ok('throttler');
    watch.ok('throttler');
    expect(lines[1]).toEqual({
      level: 'warn',
      msg: 'redis recovered',
      dependency: 'redis',
      state: 'recovered',
      since: '2026-12-06T07:00:00.000Z',
      downForMs: 5250,
    });
    expect(lines).toHaveLength(2);
    expect(watch.down).toBe(false);
  });

  it('says nothing while the dependency answers, and starts afresh after a recovery', () => {
    const { watch, lines, advance } = setup();
    watch.ok('queue');
    expect(lines).toEqual([]);
    watch.failed('queue', refused());
    watch.ok('queue');
    advance(60_000);
    watch.failed('queue', new Error('Connection is closed.'));
    expect(lines.map((l) => [l.state, l.since, l.error])).toEqual([
      ['unreachable', '2026-12-06T07:00:00.000Z', 'ECONNREFUSED 127.0.0.1:6390'],
      ['recovered', '2026-12-06T07:00:00.000Z', undefined],
      ['unreachable', '2026-12-06T07:01:00.000Z', 'Connection is closed.'],
    ]);
  });
});

describe('describeConnectionError', () => {
  it('names the code and the address, in one line', () => {
    expect(describeConnectionError(refused())).toBe('ECONNREFUSED 127.0.0.1:6390');
    const aggregate = Object.assign(new AggregateError([refused()], ''), { code: 'ECONNREFUSED' });
    expect(describeConnectionError(aggregate)).toBe('ECONNREFUSED 127.0.0.1:6390');
    expect(describeConnectionError(new Error('first line\n    at stack'))).toBe('first line');
    expect(describeConnectionError('text')).toBe('text');
  });
});

describe('isConnectionError', () => {
  it('tells network failures from bugs', () => {
    expect(isConnectionError(refused())).toBe(true);
    expect(isConnectionError(new Error('Connection is closed.'))).toBe(true);
    expect(isConnectionError(Object.assign(new Error('terminating connection'), { code: '57P01' }))).toBe(true);
    // A fail-fast producer's connection: refused while reconnecting, or no answer within its command timeout.
    expect(isConnectionError(new Error("Stream isn't writeable and enableOfflineQueue options is false"))).toBe(true);
    expect(isConnectionError(new Error('Command timed out'))).toBe(true);
    expect(isConnectionError(new TypeError('x is not a function'))).toBe(false);
    expect(isConnectionError('ECONNREFUSED')).toBe(false);
  });
});

describe('probeEvery', () => {
  afterEach(() => jest.useRealTimers());

  it('reports each probe to the watch, one probe at a time, and stops', async () => {
    jest.useFakeTimers({ now: Date.parse('2026-12-06T07:00:00.000Z') });
    const lines: DependencyEvent[] = [];
    const watch = new DependencyWatch('postgres', (e) => lines.push(e));
    let answer: 'ok' | 'down' = 'down';
    let calls = 0;
    let release: (() => void) | undefined;
    const probe = () => {
      calls++;
      if (answer === 'ok') return Promise.resolve();
      return new Promise<void>((_, reject) => (release = () => reject(refused())));
    };
    const p = probeEvery(watch, 'probe', probe, 1000);
    await jest.advanceTimersByTimeAsync(3000); // the first probe hangs: no second one starts
    expect(calls).toBe(1);
    release!();
    await jest.advanceTimersByTimeAsync(0);
    expect(lines.map((l) => l.state)).toEqual(['unreachable']);
    answer = 'ok';
    await jest.advanceTimersByTimeAsync(1000);
    expect(lines.map((l) => [l.state, l.dependency, l.downForMs])).toEqual([
      ['unreachable', 'postgres', undefined],
      ['recovered', 'postgres', 1000],
    ]);
    await p.stop();
    await jest.advanceTimersByTimeAsync(5000);
    expect(calls).toBe(2);
  });
});

describe('openOrSayUnreachable', () => {
  it('names the dependency and the setting when the connection fails, in one line', async () => {
    const failing = openOrSayUnreachable('postgres', 'DATABASE_URL', () => Promise.reject(refused()));
    await expect(failing).rejects.toThrow(
      new DependencyUnreachableError('postgres', 'DATABASE_URL', refused()).message,
    );
    await expect(failing).rejects.toThrow(
      'postgres unreachable (ECONNREFUSED 127.0.0.1:6390): is it running, and is DATABASE_URL right?',
    );
  });

  it('passes other errors through, and the value on success', async () => {
    const bug = new TypeError('x is not a function');
    await expect(openOrSayUnreachable('postgres', 'DATABASE_URL', () => Promise.reject(bug))).rejects.toBe(bug);
    await expect(openOrSayUnreachable('postgres', 'DATABASE_URL', () => Promise.resolve(7))).resolves.toBe(7);
  });
});
