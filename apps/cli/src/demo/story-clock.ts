import { DateTime } from 'luxon';

/**
 * The compressed clock: the story's dates (9 May 08:00 Europe/Paris, then 11 May) mapped onto the next seconds of
 * real time, so that days of the plan play out in a minute. One story instant (the anchor) is pinned to one real
 * instant, and every story hour lasts `realSecondsPerStoryHour` real seconds, until `realSpeedFrom` (story time):
 * from then on the clock runs at real speed (the last wave's rates are real accounts per second).
 */
export class StoryClock {
  private readonly anchorStoryMs: number;
  private readonly realSpeedFromStoryMs: number;

  constructor(
    readonly zone: string,
    anchorStoryLocal: string,
    readonly anchorRealMs: number,
    readonly realSecondsPerStoryHour: number,
    realSpeedFrom?: string,
  ) {
    this.anchorStoryMs = this.parse(anchorStoryLocal);
    this.realSpeedFromStoryMs = realSpeedFrom === undefined ? Infinity : this.parse(realSpeedFrom);
  }

  private parse(storyLocal: string): number {
    const story = DateTime.fromISO(storyLocal, { zone: this.zone });
    if (!story.isValid) throw new Error(`${storyLocal} in ${this.zone} is not a valid story time`);
    return story.toMillis();
  }

  private compressedReal(storyMs: number): number {
    return this.anchorRealMs + ((storyMs - this.anchorStoryMs) / 3_600_000) * this.realSecondsPerStoryHour * 1000;
  }

  /** The real instant a story wall-clock time (in the clock's zone) happens at. */
  realOf(storyLocal: string): Date {
    const storyMs = this.parse(storyLocal);
    if (storyMs <= this.realSpeedFromStoryMs) return new Date(this.compressedReal(storyMs));
    return new Date(this.compressedReal(this.realSpeedFromStoryMs) + (storyMs - this.realSpeedFromStoryMs));
  }

  /** The story time at a real instant, in the clock's zone. */
  storyOf(realMs: number): DateTime {
    const switchReal = this.compressedReal(this.realSpeedFromStoryMs);
    const storyMs =
      realMs <= switchReal
        ? this.anchorStoryMs + ((realMs - this.anchorRealMs) / 1000 / this.realSecondsPerStoryHour) * 3_600_000
        : this.realSpeedFromStoryMs + (realMs - switchReal);
    return DateTime.fromMillis(storyMs, { zone: this.zone });
  }

  /**
   * What the API is sent to schedule a wave at a real instant: that instant's wall-clock time in `zone` (whole
   * seconds, rounded up so the start is never earlier than asked), e.g. 2026-11-28T00:41:05 Europe/Paris.
   */
  static wallClock(real: Date, zone: string): string {
    const ms = Math.ceil(real.getTime() / 1000 - 1e-6) * 1000; // (float noise must not add a second)
    return DateTime.fromMillis(ms, { zone }).toFormat("yyyy-MM-dd'T'HH:mm:ss");
  }

  /** "9 May 08:00 Europe/Paris → 23:41:05 local (in 5 s)" */
  describe(storyLocal: string, nowMs = Date.now()): string {
    const real = this.realOf(storyLocal);
    const story = DateTime.fromISO(storyLocal, { zone: this.zone, locale: 'en-GB' });
    const inSeconds = Math.max(0, Math.round((real.getTime() - nowMs) / 1000));
    const local = DateTime.fromJSDate(real).toLocal().toFormat('HH:mm:ss');
    return `${story.toFormat('d LLL HH:mm')} ${this.zone} → ${local} local (in ${inSeconds} s)`;
  }

  /** "Sat 9 May 08:24:10" for the live view. */
  label(realMs = Date.now()): string {
    return this.storyOf(realMs).setLocale('en-GB').toFormat('ccc d LLL HH:mm:ss');
  }
}
