import { countWorkers, sightingOf, WORKER_ALIVE_MS, WorkerIdentity } from './worker-roster';

const ID: WorkerIdentity = {
  id: 'host/42/abcdef',
  version: '1.0.0',
  commit: 'abc1234',
  hostname: 'host',
  pid: 42,
  startedAt: '2026-05-09T05:00:00.000Z',
  driver: 'http',
};
const NOW = Date.parse('2026-05-09T06:00:00.000Z');

describe('sightingOf: the alive rule', () => {
  it.each([
    ['reported just now', 0, true],
    ['reported 15 s ago (the bound)', WORKER_ALIVE_MS, true],
    ['reported 15.001 s ago', WORKER_ALIVE_MS + 1, false],
    ['reported an hour ago', 3_600_000, false],
  ])('%s: alive %s', (_what, ageMs, alive) => {
    expect(sightingOf(ID, NOW - ageMs, NOW)).toEqual({
      ...ID,
      alive,
      lastSeenAt: new Date(NOW - ageMs).toISOString(),
    });
  });

  it('a worker that said it was stopping is not alive, however recent its report', () => {
    const left = sightingOf({ ...ID, leftAt: '2026-05-09T06:00:00.000Z' }, NOW, NOW);
    expect(left).toMatchObject({ alive: false, leftAt: '2026-05-09T06:00:00.000Z' });
  });
});

describe('countWorkers', () => {
  it('counts alive, stopped (said so) and lost (stopped reporting), each once', () => {
    const seen = (ageMs: number, leftAt?: string) => sightingOf({ ...ID, ...(leftAt && { leftAt }) }, NOW - ageMs, NOW);
    expect(countWorkers([])).toEqual({ alive: 0, stopped: 0, lost: 0 });
    expect(countWorkers([seen(0), seen(1000), seen(0, '2026-05-09T06:00:00.000Z'), seen(60_000)])).toEqual({
      alive: 2,
      stopped: 1,
      lost: 1,
    });
  });
});
