import { ApiClient } from './api-client';

/** What the security team pushes and the waves' signal gates read. */
export const FAILED_LOGINS_SIGNAL = 'failed_logins_per_minute';
export const SIGNAL_WINDOW_SECONDS = 60;

/** Normal background noise of failed POP/IMAP logins per minute, per cohort (mistyped passwords). */
const BASELINE: Record<string, [number, number]> = { health: [2, 9], general: [18, 42] };

/**
 * The security team as a system: it pushes failed POP/IMAP logins per minute for each cohort every few seconds
 * (a signal that stops arriving pauses a wave as inconclusive, so the feed must keep going while waves run), and
 * on cue a burst for one cohort, held until it calms down again.
 */
export class SecurityFeed {
  private timer: NodeJS.Timeout | null = null;
  private readonly bursting = new Map<string, number>();
  private failure: Error | null = null;
  pushed = 0;

  constructor(
    private readonly api: ApiClient,
    private readonly cohorts: readonly string[],
    private readonly intervalMs = 5000,
  ) {}

  /** Pushes a first sample for every cohort (awaited: the gates must have data before a wave starts), then repeats. */
  async start(): Promise<void> {
    await this.pushAll();
    this.timer = setInterval(() => {
      this.pushAll().catch((err: unknown) => (this.failure = err as Error));
    }, this.intervalMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** A push that failed in the background (the story stops on it). */
  get error(): Error | null {
    return this.failure;
  }

  /** Rising samples for one cohort; the last value is repeated by the feed until calm(). */
  async burst(cohort: string, values: readonly number[]): Promise<void> {
    for (const value of values) {
      this.bursting.set(cohort, value);
      await this.push(cohort, value);
    }
  }

  /** Back to background noise for the cohort, pushed at once; returns the value sent. */
  async calm(cohort: string): Promise<number> {
    this.bursting.delete(cohort);
    const value = baseline(cohort);
    await this.push(cohort, value);
    return value;
  }

  private async pushAll(): Promise<void> {
    for (const cohort of this.cohorts) await this.push(cohort, this.bursting.get(cohort) ?? baseline(cohort));
  }

  private async push(cohort: string, value: number): Promise<void> {
    await this.api.post('/signals', {
      name: FAILED_LOGINS_SIGNAL,
      value,
      windowSeconds: SIGNAL_WINDOW_SECONDS,
      observedAt: new Date().toISOString(),
      cohort,
    });
    this.pushed++;
  }
}

function baseline(cohort: string): number {
  const [low, high] = BASELINE[cohort] ?? [5, 15];
  return low + Math.floor(Math.random() * (high - low + 1));
}
