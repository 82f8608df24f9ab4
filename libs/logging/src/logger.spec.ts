import { alwaysLogged, createLogger } from './logger';

/** A logger writing into an array, one parsed JSON object per line. */
function capture(level: string) {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger('reopen-worker', level, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { logger, lines };
}

describe('the shared logger', () => {
  it('writes one JSON line per entry in the schema the API and the worker share', () => {
    const { logger, lines } = capture('info');
    logger.warn({ dependency: 'redis', state: 'unreachable' }, 'redis unreachable');
    expect(lines).toEqual([
      {
        level: 40,
        time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
        app: 'reopen-worker',
        dependency: 'redis',
        state: 'unreachable',
        msg: 'redis unreachable',
      },
    ]);
  });

  it('honours LOG_LEVEL, except for the lines tools wait for', () => {
    const { logger, lines } = capture('warn');
    logger.info('dropped');
    alwaysLogged(logger).info({ healthPort: 3001 }, 'worker ready');
    alwaysLogged(logger).debug('still below info: dropped');
    expect(lines.map((l) => [l.level, l.msg, l.app])).toEqual([[30, 'worker ready', 'reopen-worker']]);
  });

  it('writes no secret: headers, secret fields at any depth, messages, error messages and stacks', () => {
    const { logger, lines } = capture('info');
    const planted = 'PLANTED-s3cret-42';
    logger.info(
      {
        req: { method: 'POST', headers: { authorization: `Bearer ${planted}`, cookie: planted, 'x-api-key': planted } },
        body: { password: planted, subscription: { secret: planted }, items: [{ apiKey: planted }] },
        request: { body: { subscription: { signingSecret: planted } } },
        token: planted,
        url: `http://sim/v1?token=${planted}`,
      },
      `called http://u:${planted}@sim/v1/accounts/alice@example.test?key=${planted}`,
    );
    const err = Object.assign(new Error(`GET /x?token=${planted} for bob@example.test`), { parameters: [planted] });
    logger.error({ err, error: `Error: Bearer ${planted}` }, 'failed');
    logger.warn(new Error(`rk_ops_0a1b2c_${planted}`));
    const text = JSON.stringify(lines);
    expect(text).not.toContain(planted);
    expect(text).not.toMatch(/alice|bob@/);
    expect(lines[0]).toMatchObject({
      req: { method: 'POST', headers: { authorization: '[REDACTED]' } },
      body: { password: '[REDACTED]', subscription: { secret: '[REDACTED]' }, items: [{ apiKey: '[REDACTED]' }] },
      request: { body: { subscription: { signingSecret: '[REDACTED]' } } },
      url: 'http://sim/v1?token=[REDACTED]',
      msg: 'called http://[REDACTED]@sim/v1/accounts/a***@example.test?key=[REDACTED]',
    });
    expect(lines[1]).toMatchObject({
      err: { type: 'Error', message: 'GET /x?token=[REDACTED] for b***@example.test' },
    });
    expect(lines[2]).toMatchObject({ level: 40, err: { message: 'rk_ops_0a1b2c_[REDACTED]' } });
  });
});
