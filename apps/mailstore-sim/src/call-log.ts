import type { CallLogEntry, Endpoint } from './sim.types';

/**
 * Accounts of one call, compactly: store indices, with negative ids -1-k standing for `extras[k]`
 * (logins the store does not know). A batch's plan is such a list already, so logging it copies nothing.
 */
export interface AccountIdList {
  readonly ids: Int32Array;
  readonly extras: readonly string[];
}

/** Accounts as logged: plain logins (single-account endpoints) or an id list (batches). */
export type LoggedAccounts = readonly string[] | AccountIdList;

const NO_ACCOUNTS: readonly string[] = [];

/**
 * The call log's clock: epoch milliseconds, fractional (call ordering below the millisecond matters to pause tests).
 * A test in the simulator's process that compares its own instants with calls' `startedAt` reads this clock, not
 * Date.now() (whole milliseconds, and apart from this one by up to a millisecond).
 */
export function epochMs(): number {
  return performance.timeOrigin + performance.now();
}

/** One call, mutated in place while the request runs (seq and startedAt are fixed at arrival). */
export class CallRecord {
  endedAt: number | null = null;
  status = 0;
  outcome = 'pending';
  accounts: LoggedAccounts = NO_ACCOUNTS;
  /** Store indices of the accounts this call changed. */
  applied: Int32Array | readonly string[] = NO_ACCOUNTS;

  constructor(
    readonly seq: number,
    readonly startedAt: number,
    readonly method: string,
    public endpoint: Endpoint,
    readonly path: string,
    public idempotencyKey: string | null,
    readonly requestId: string | null,
  ) {}

  /** Records how the call ended; the first end wins (a hang timer and a client close can race). */
  finish(status: number, outcome: string): void {
    if (this.endedAt !== null) return;
    this.endedAt = epochMs();
    this.status = status;
    this.outcome = outcome;
  }
}

/**
 * The last `capacity` /v1 calls, in arrival order, in a ring buffer. Sequence numbers start at 1 and are
 * never reused, not even after clear(), so `since` polling keeps working across clears and resets.
 */
export class CallLog {
  private readonly ring: (CallRecord | undefined)[] = [];
  private nextSeq = 1;
  /** Lowest seq still readable (raised by clear()). */
  private firstSeq = 1;

  constructor(readonly capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new Error('callLogCapacity must be a positive integer');
  }

  /** The seq of the newest call (0 when none yet). */
  get lastSeq(): number {
    return this.nextSeq - 1;
  }

  begin(
    method: string,
    endpoint: Endpoint,
    path: string,
    idempotencyKey: string | null,
    requestId: string | null,
  ): CallRecord {
    const seq = this.nextSeq++;
    const record = new CallRecord(seq, epochMs(), method, endpoint, path, idempotencyKey, requestId);
    const slot = (seq - 1) % this.capacity;
    if (slot === this.ring.length) this.ring.push(record);
    else this.ring[slot] = record;
    return record;
  }

  /** Calls with seq > since, oldest first, at most `limit`. */
  list(since: number, limit: number, loginAt: (index: number) => string): CallLogEntry[] {
    const from = Math.max(since + 1, this.firstSeq, this.nextSeq - this.capacity);
    const to = Math.min(this.nextSeq - 1, from + limit - 1);
    const out: CallLogEntry[] = [];
    for (let seq = from; seq <= to; seq++) {
      const r = this.ring[(seq - 1) % this.capacity];
      if (r) out.push(materialize(r, loginAt));
    }
    return out;
  }

  clear(): void {
    // Slots are derived from seq, so the ring keeps its length; only the records are let go.
    this.ring.fill(undefined);
    this.firstSeq = this.nextSeq;
  }
}

function materialize(r: CallRecord, loginAt: (index: number) => string): CallLogEntry {
  return {
    seq: r.seq,
    startedAt: r.startedAt,
    endedAt: r.endedAt,
    method: r.method,
    endpoint: r.endpoint,
    path: r.path,
    accounts: accountsOf(r.accounts, loginAt),
    idempotencyKey: r.idempotencyKey,
    requestId: r.requestId,
    status: r.status,
    outcome: r.outcome,
    applied: r.applied instanceof Int32Array ? Array.from(r.applied, loginAt) : [...r.applied],
  };
}

function accountsOf(accounts: LoggedAccounts, loginAt: (index: number) => string): string[] {
  if (!('ids' in accounts)) return [...accounts];
  return Array.from(accounts.ids, (id) => (id >= 0 ? loginAt(id) : accounts.extras[-id - 1]));
}
