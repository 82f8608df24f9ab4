import { DataSource } from 'typeorm';
import { loginBucket, LoginEvent, LoginEventDrop, readLoginEvent } from '@app/domain';
import { sqlOfDataSource } from '../db/sql';
import { LoginCountRepository, LoginCountRow } from './login-count.repository';
import { LoginReaction } from './login-reaction';

export interface LoginIngestSettings {
  /** Counts wait this long in memory before one statement adds them (the gates read them every second). */
  flushIntervalMs: number;
  /** A flush starts early when this many distinct (login, bucket) pairs wait. */
  maxPendingRows: number;
  /** Past this many waiting pairs (PostgreSQL away), new events are dropped as `overflow` and counted. */
  maxBufferedRows: number;
  /** Events older than this (a server that queued them) or ahead of the clock by `maxSkewMs` are `stale`. */
  maxAgeMs: number;
  maxSkewMs: number;
  /** How many recent events' keys are kept to drop one posted twice. */
  dedupeWindow: number;
}

export const LOGIN_INGEST_DEFAULTS: LoginIngestSettings = {
  flushIntervalMs: 250,
  maxPendingRows: 5000,
  maxBufferedRows: 200_000,
  maxAgeMs: 10 * 60_000,
  maxSkewMs: 60_000,
  dedupeWindow: 20_000,
};

export type LoginEventResult = 'accepted' | 'duplicate' | 'overflow' | LoginEventDrop;

/** What the process has seen since it started (the API's /metrics). */
export interface LoginIngestStats {
  events: Record<LoginEventResult, number>;
  flushes: number;
  flushErrors: number;
  /** (login, bucket) pairs flushed whose login the service does not know (their events count for nothing). */
  unknownLogins: number;
  /** Accounts closed again by the per-account reaction, and its flushes that failed. */
  reclosed: number;
  reactionErrors: number;
  pendingRows: number;
}

/**
 * The mail server's login events, turned into counts cheaply (issue 19): each event is read (a pure rule), dropped
 * with its reason or added to an in-memory count per (login, bucket); every `flushIntervalMs` (or sooner, when many
 * wait) one statement adds the counts to login_counts (LoginCountRepository.add). Nothing per event touches
 * PostgreSQL, and no event is ever answered with an error that would make the server send it again.
 *
 * While PostgreSQL is away the counts wait (up to `maxBufferedRows` pairs, then new events are counted as overflow):
 * a flush that fails keeps its rows for the next one.
 */
export class LoginIngestService {
  private pending = new Map<string, LoginCountRow>();
  private events = 0;
  private lastEventAt: Date | null = null;
  private readonly recent = new Set<string>();
  /** `recent`'s keys in the order they came, a ring: the slot to reuse holds the oldest key. */
  private readonly recentOrder: (string | undefined)[] = [];
  private recentNext = 0;
  private flushing: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly counts: LoginIngestStats = {
    events: { accepted: 0, duplicate: 0, overflow: 0, malformed: 0, not_a_login: 0, other_service: 0, stale: 0 },
    flushes: 0,
    flushErrors: 0,
    unknownLogins: 0,
    pendingRows: 0,
    reclosed: 0,
    reactionErrors: 0,
  };

  constructor(
    private readonly dataSource: DataSource,
    private readonly repository = new LoginCountRepository(),
    private readonly settings: LoginIngestSettings = LOGIN_INGEST_DEFAULTS,
    /** The per-account reaction (waves with `reclose`); none: failed logins are only counted. */
    private readonly reaction?: LoginReaction,
  ) {}

  /** Reads and counts posted events (one, or an array); returns what became of each. */
  accept(inputs: readonly unknown[], now = new Date()): LoginEventResult[] {
    const results = inputs.map((input) => this.acceptOne(input, now));
    this.counts.pendingRows = this.pending.size;
    if (this.pending.size >= this.settings.maxPendingRows) void this.flush();
    else this.schedule();
    return results;
  }

  /** Adds what waits, in one statement; concurrent callers share the flush under way, then flush again. */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (this.pending.size === 0) return;
    this.flushing = this.flushOnce().finally(() => (this.flushing = null));
    return this.flushing;
  }

  stats(): LoginIngestStats {
    return {
      ...this.counts,
      events: { ...this.counts.events },
      pendingRows: this.pending.size,
      reclosed: this.reaction?.stats.reclosed ?? 0,
      reactionErrors: this.reaction?.stats.errors ?? 0,
    };
  }

  /** Stops the timer and adds what waits (process shutdown). */
  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.flush().catch(() => undefined);
  }

  private acceptOne(input: unknown, now: Date): LoginEventResult {
    const event = readLoginEvent(input, now, this.settings);
    const result = typeof event === 'string' ? event : this.count(event, now);
    this.counts.events[result]++;
    return result;
  }

  /**
   * Counts an event when it arrives (`now`, the service's clock), not at its own end_time: a mail server whose clock
   * runs behind (within `maxAgeMs`) would otherwise put its logins in buckets the gates' windows no longer read, and
   * the stream would look alive while every gate saw nothing. Its end_time only decides staleness and duplicates.
   */
  private count(event: LoginEvent, now: Date): LoginEventResult {
    if (this.recent.has(event.key)) return 'duplicate';
    const bucket = loginBucket(now);
    const id = `${event.login}\u0000${bucket.getTime()}`;
    let row = this.pending.get(id);
    if (!row) {
      if (this.pending.size >= this.settings.maxBufferedRows) return 'overflow';
      row = { login: event.login, bucket, failed: 0, succeeded: 0 };
      this.pending.set(id, row);
    }
    if (event.success) row.succeeded++;
    else {
      row.failed++;
      this.reaction?.note(event, now);
    }
    this.remember(event.key);
    this.events++;
    if (!this.lastEventAt || now > this.lastEventAt) this.lastEventAt = now;
    return 'accepted';
  }

  /**
   * A bounded set of recent keys: the oldest leaves first. Its order is kept in a ring rather than read from the Set's
   * iterator: a Set keeps deleted entries as holes until it is rehashed, and `values().next()` walks over every one of
   * them, which made each event cost thousands of steps at 5,000 events/s (the API's CPU profile under bench:events).
   */
  private remember(key: string): void {
    const window = this.settings.dedupeWindow;
    if (window <= 0) return;
    const oldest = this.recentOrder[this.recentNext];
    if (oldest !== undefined) this.recent.delete(oldest);
    this.recentOrder[this.recentNext] = key;
    this.recentNext = (this.recentNext + 1) % window;
    this.recent.add(key);
  }

  private schedule(): void {
    if (this.timer || this.pending.size === 0) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.flush();
    }, this.settings.flushIntervalMs);
    this.timer.unref();
  }

  private async flushOnce(): Promise<void> {
    const rows = [...this.pending.values()];
    const events = this.events;
    const lastEventAt = this.lastEventAt ?? new Date();
    this.pending = new Map();
    this.events = 0;
    try {
      const matched = await this.repository.add(sqlOfDataSource(this.dataSource), rows, lastEventAt, events);
      this.counts.flushes++;
      this.counts.unknownLogins += rows.length - matched;
    } catch {
      // PostgreSQL away: the rows wait for the next flush (merged with what came since), within the buffer bound.
      this.counts.flushErrors++;
      this.events += events;
      for (const row of rows) {
        const id = `${row.login}\u0000${row.bucket.getTime()}`;
        const newer = this.pending.get(id);
        if (newer) {
          newer.failed += row.failed;
          newer.succeeded += row.succeeded;
        } else if (this.pending.size < this.settings.maxBufferedRows) this.pending.set(id, row);
        else this.counts.events.overflow += row.failed + row.succeeded;
      }
      this.schedule();
      return;
    }
    // After the counts (the gates' input): the per-account reaction, whose own failure keeps its rows.
    await this.reaction?.flush(new Date()).catch(() => this.schedule());
  }
}
