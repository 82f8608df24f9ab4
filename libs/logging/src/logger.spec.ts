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
});
