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

  private async read(): Promise<Outcome<Capabilities>> {
    try {
      const outcome = await this.client.refreshCapabilities();
      if (outcome.kind === 'ok') await this.repo.record(this.sql, outcome.value, batchSizeLimit(outcome.value));
      return outcome;
    } finally {
      this.lastReadAt = Date.now();
    }
  }
}
