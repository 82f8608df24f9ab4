import { DataSource } from 'typeorm';
import { Counter, Histogram, Registry } from 'prom-client';

const BATCH = 20_000;
/** At first scrape, history starts this many calls back (counters reset with the process anyway). */
const BACKFILL = 100_000;
/** An id skipped by a transaction still open is looked for again this long, then given up (rolled back). */
const GAP_TTL_MS = 30_000;

interface CallRow {
  id: string;
  source: 'wave' | 'operation';
  latency_ms: number;
  outcome: string;
  items: number;
  item_errors: number;
}

/**
 * Mailstore call latency and outcomes from `mailstore_calls` (the worker makes the calls; the API exports them).
 * Each scrape reads only rows after the last id seen (primary-key range), so the histogram stays a true
 * cumulative count at constant cost. Ids skipped because their transaction had not committed yet are retried.
 */
export class MailstoreCallMetrics {
  private lastId: number | null = null;
  private readonly gaps = new Map<number, number>();
  private readonly latency: Histogram<'source' | 'outcome'>;
  private readonly items: Counter<'source' | 'result'>;

  constructor(
    private readonly dataSource: DataSource,
    registry: Registry,
  ) {
    this.latency = new Histogram({
      name: 'reopen_mailstore_call_duration_seconds',
      help: 'Mailstore call latency by outcome (ok, rate_limited, unavailable, retryable:<code>, permanent:<code>)',
      labelNames: ['source', 'outcome'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    });
    this.items = new Counter({
      name: 'reopen_mailstore_call_items_total',
      help: 'Accounts carried by mailstore calls, and those the mailstore refused item by item',
      labelNames: ['source', 'result'],
      registers: [registry],
    });
  }

  async poll(): Promise<void> {
    if (this.lastId === null) {
      const [row] = await this.dataSource.query<{ max: string | null }[]>(`SELECT max(id) AS max FROM mailstore_calls`);
      this.lastId = Math.max(0, Number(row.max ?? 0) - BACKFILL);
    }
    await this.retryGaps();
    for (;;) {
      const rows = await this.select(`id > $1 ORDER BY id LIMIT ${BATCH}`, [this.lastId]);
      for (const r of rows) {
        const id = Number(r.id);
        // Small holes only: a large jump is a sequence cache or a bulk rollback, not transactions in flight.
        if (id - this.lastId <= 1000) {
          for (let missing = this.lastId + 1; missing < id; missing++) this.gaps.set(missing, Date.now() + GAP_TTL_MS);
        }
        this.observe(r);
        this.lastId = id;
      }
      if (rows.length < BATCH) return;
    }
  }

  private async retryGaps(): Promise<void> {
    const now = Date.now();
    for (const [id, until] of this.gaps) if (until < now || this.gaps.size > BATCH) this.gaps.delete(id);
    if (!this.gaps.size) return;
    const rows = await this.select('id = ANY($1::bigint[])', [[...this.gaps.keys()]]);
    for (const r of rows) {
      this.gaps.delete(Number(r.id));
      this.observe(r);
    }
  }

  private select(where: string, params: unknown[]): Promise<CallRow[]> {
    return this.dataSource.query<CallRow[]>(
      `SELECT id, CASE WHEN wave_id IS NULL THEN 'operation' ELSE 'wave' END AS source, latency_ms, outcome, items,
              item_errors
         FROM mailstore_calls WHERE ${where}`,
      params,
    );
  }

  private observe(r: CallRow): void {
    this.latency.observe({ source: r.source, outcome: r.outcome }, r.latency_ms / 1000);
    this.items.inc({ source: r.source, result: 'sent' }, r.items);
    if (r.item_errors) this.items.inc({ source: r.source, result: 'refused' }, r.item_errors);
  }
}
