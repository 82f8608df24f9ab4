import { StoryClock } from './story-clock';

describe('StoryClock', () => {
  const anchorReal = Date.parse('2026-11-27T23:41:05Z');
  // 9 May 08:00 Paris happens at anchorReal; one story hour lasts 0.25 s until 11 May 08:00, then real speed.
  const clock = new StoryClock('Europe/Paris', '2026-05-09T08:00', anchorReal, 0.25, '2026-05-11T08:00');

  it('maps story wall-clock times onto the compressed real timeline', () => {
    expect(clock.realOf('2026-05-09T08:00').getTime()).toBe(anchorReal);
    expect(clock.realOf('2026-05-09T12:00').getTime()).toBe(anchorReal + 1000);
    expect(clock.realOf('2026-05-11T08:00').getTime()).toBe(anchorReal + 48 * 250);
  });

  it('runs at real speed after the switch, both ways', () => {
    const switchReal = anchorReal + 48 * 250;
    expect(clock.realOf('2026-05-11T08:00:30').getTime()).toBe(switchReal + 30_000);
    expect(clock.storyOf(switchReal + 30_000).toFormat("yyyy-MM-dd'T'HH:mm:ss")).toBe('2026-05-11T08:00:30');
    expect(clock.storyOf(anchorReal + 1000).toFormat("yyyy-MM-dd'T'HH:mm")).toBe('2026-05-09T12:00');
  });

  it('gives the API a whole-second wall-clock time in the zone, never earlier than asked', () => {
    expect(StoryClock.wallClock(new Date('2026-11-27T23:41:05.200Z'), 'Europe/Paris')).toBe('2026-11-28T00:41:06');
    expect(StoryClock.wallClock(new Date('2026-07-01T06:00:00.000Z'), 'Europe/Paris')).toBe('2026-07-01T08:00:00');
  });

  it('describes the mapping in local time', () => {
    expect(clock.describe('2026-05-09T08:00', anchorReal - 5000)).toMatch(
      /^9 May 08:00 Europe\/Paris → \d\d:\d\d:05 local \(in 5 s\)$/,
    );
    expect(clock.label(anchorReal)).toBe('Sat 9 May 08:00:00');
  });
});
