import { buildProgress, Counters } from './progress';
import { projectedDuration, windowedEtaSeconds, windowedProjection, workSegments } from './rate';
import { TimeWindows } from './time-windows';

/** The preview's duration and the progress ETA through a wave's time windows (issue 20). */
const office: TimeWindows = {
  timeZone: 'Europe/Paris',
  allowed: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '08:00', end: '20:00' }],
};
// Monday 2026-05-11 in summer time (UTC+2).
const mondayNoon = new Date('2026-05-11T10:00:00Z');
const fridayNight = new Date('2026-05-15T19:00:00Z'); // 21:00 Paris: closed until Monday 08:00

describe('workSegments', () => {
  it('sends each ramp step at the rate and bakes between steps, as projectedDuration counts them', () => {
    const steps = [
      { percent: 10, bakeSeconds: 600 },
      { percent: 100, bakeSeconds: 0 },
    ];
    expect(workSegments(1000, 10, steps)).toEqual([{ send: 10 }, { wait: 600 }, { send: 90 }]);
    const total = workSegments(1000, 10, steps).reduce((s, x) => s + ('send' in x ? x.send : x.wait), 0);
    expect(total).toBe(projectedDuration(1000, 10, steps).totalSeconds);
    expect(workSegments(0, 10, [])).toEqual([]);
  });
});

describe('windowedProjection (the preview)', () => {
  it('ends later than the plain duration when the work crosses a closed stretch', () => {
    // 14 hours of sending from Monday 12:00 Paris: 8 on Monday, 6 on Tuesday from 08:00.
    const p = windowedProjection(office, mondayNoon, 14 * 3600, 1, []);
    expect(p.projectedEndAt?.toISOString()).toBe('2026-05-12T12:00:00.000Z');
    expect(p.totalSeconds).toBe(26 * 3600);
    // Started on a Friday night: nothing before Monday 08:00.
    expect(windowedProjection(office, fridayNight, 60, 1, []).projectedEndAt?.toISOString()).toBe(
      '2026-05-18T06:01:00.000Z',
    );
  });
});

describe('the progress ETA with windows', () => {
  const counters: Counters = { total: 1000, pending: 1000 };
  const progress = (state: 'running' | 'paused', statusReason: string | null, now: Date) =>
    buildProgress(counters, {
      observedRatePerSecond: 0,
      targetRatePerSecond: 1,
      state,
      statusReason,
      windows: { windows: office, now },
    });

  it('counts sending time inside the windows only', () => {
    expect(progress('running', null, mondayNoon).etaSeconds).toBe(1000);
    // 1000 s from 19:50 Paris: 600 s on Monday, 400 s from Tuesday 08:00.
    const lateMonday = new Date('2026-05-11T17:50:00Z');
    expect(progress('running', null, lateMonday).etaSeconds).toBe(600 + 12 * 3600 + 400);
    expect(windowedEtaSeconds(1000, office, lateMonday)).toBe(600 + 12 * 3600 + 400);
  });

  it('a wave waiting for its window has an ETA from the opening; one paused by ops has none', () => {
    expect(progress('paused', 'outside_window', fridayNight).etaSeconds).toBe(2 * 86_400 + 11 * 3600 + 1000);
    expect(progress('paused', 'ops', fridayNight).etaSeconds).toBeNull();
  });

  it('a rollback ignores the windows', () => {
    const view = buildProgress(
      { total: 10, enabled: 10, 'rollback:total': 10, 'rollback:pending': 10 },
      {
        observedRatePerSecond: 0,
        targetRatePerSecond: 1,
        state: 'rolling_back',
        windows: { windows: office, now: fridayNight },
      },
    );
    expect(view.etaSeconds).toBe(10);
  });
});
