import { DataSource } from 'typeorm';
import { batchSizeLimit, Mailstore, Outcome, Capabilities } from '@app/mailstore';
import { CapabilitiesRepository } from './capabilities.repository';
import { Sql, sqlOfDataSource } from '../db/sql';

/** After a 429, capabilities are read again at most this often (a burst of 429s from every pump reads them once). */
const AFTER_429_MIN_INTERVAL_MS = 1_000;

/**
 * Keeps the worker's view of the mailstore's capabilities current (issue 18): read at start, every
 * CAPABILITIES_REFRESH_MS (the worker's timer) and at once after a 429, so a mailstore that advertises a lower rate is
 * paced by it from the next batch (pumps read the driver's cached capabilities for every batch) instead of being
 * learned from 429s. Each read is recorded in PostgreSQL, with when, for the preview. One read at a time.
 */
export class CapabilitiesWatch {
  private reading: Promise<Outcome<Capabilities>> | null = null;
  private lastReadAt = 0;
  /** The most items a batch call was last told it may carry by a 413 (for this process's life; undefined: none). */
  private refusedLimit: number | undefined;
  private readonly sql: Sql;

  constructor(
    dataSource: DataSource,
    private readonly client: Mailstore,
    private readonly repo = new CapabilitiesRepository(),
  ) {
    this.sql = sqlOfDataSource(dataSource);
  }

  /** Reads the capabilities again and records them; callers during a read share it. */
  refresh(): Promise<Outcome<Capabilities>> {
    this.reading ??= this.read().finally(() => (this.reading = null));
    return this.reading;
  }

  /**
   * A 429 arrived: read them again now, in the background (the pump goes on with its Retry-After), unless a read
   * ended less than a second ago. A failed read changes nothing: the pace keeps the figure it had.
   */
  rateLimited(): void {
    if (this.reading || Date.now() - this.lastReadAt < AFTER_429_MIN_INTERVAL_MS) return;
    this.refresh().catch(() => undefined);
  }

  /**
   * The most accounts a batch may carry now: the capabilities as last read (min(maxBatchItems, accountUpdateBurst)),
   * and never more than a 413 said; undefined while the capabilities are unknown and no 413 came.
   */
  batchLimit(): number | undefined {
    const caps = this.client.cachedCapabilities();
    const read = caps ? batchSizeLimit(caps) : undefined;
    if (this.refusedLimit === undefined) return read;
    return read === undefined ? this.refusedLimit : Math.min(read, this.refusedLimit);
  }

  /**
   * A batch of `sent` items was refused as too large (413 batch_too_large, nothing applied): later batches carry at
   * most its `maxItems`, or half of what was sent when it says none; the capabilities are read again too.
   */
  batchTooLarge(sent: number, maxItems: number | undefined): void {
    const limit = Math.max(1, Math.min(maxItems ?? Math.floor(sent / 2), sent - 1));
    this.refusedLimit = Math.min(this.refusedLimit ?? limit, limit);
    this.refresh().catch(() => undefined);
  }

  private async read(): Promise<Outcome<Capabilities>> {
    try {
      const outcome = await this.client.refreshCapabilities();
      // The limit recorded is the one this worker applies (a 413's too), so the preview describes what it sends.
      if (outcome.kind === 'ok') {
        const limit = Math.min(batchSizeLimit(outcome.value), this.refusedLimit ?? Infinity);
        await this.repo.record(this.sql, outcome.value, limit);
      }
      return outcome;
    } finally {
      this.lastReadAt = Date.now();
    }
  }
}
